"""Builds the Lambda layer on this machine, without Docker.

The layer is `python/` holding the runtime dependencies from pyproject.toml (less boto3, which the
Lambda runtime ships) installed for the target platform, plus the `tidings` package. Lambda adds a
layer's `python/` folder to sys.path (Lambda Developer Guide, "Packaging your layer content":
/opt/python for Python runtimes).

A built layer is cached under build/layer/<key>, the key being a hash of pyproject.toml, the
shared/tidings sources and the target, so repeated synths only copy it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import DockerImage, ILocalBundling

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
SHARED_PACKAGE = ROOT / "shared" / "tidings"
CACHE_DIR = ROOT / "build" / "layer"
# Built layers kept in the cache (the least recently used beyond this are removed).
CACHE_ENTRIES = 6

# Shipped by the Lambda Python runtime (Lambda Developer Guide, "Runtime-included SDK versions").
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3"})
_IGNORED_NAMES = ("__pycache__", "*.pyc", "*.pyo")
# Bump when the layout of a built layer changes, so stale cache entries are not reused.
_FORMAT = "1"


class LayerBuildError(RuntimeError):
    """pip could not install the layer's dependencies for the target."""


@dataclass(frozen=True)
class LayerTarget:
    """Which interpreter and platform the layer's binary wheels are for.

    `platforms` empty means "this machine's interpreter": pip then installs for the running Python
    (used by the tests to import handlers with the layer on the path).
    """

    python_version: str | None
    platforms: tuple[str, ...]

    @classmethod
    def lambda_arm64(cls, python_version: str) -> LayerTarget:
        return cls(python_version=python_version, platforms=("manylinux2014_aarch64",))

    @classmethod
    def host(cls) -> LayerTarget:
        return cls(python_version=None, platforms=())

    @property
    def label(self) -> str:
        if not self.platforms:
            version = f"{sys.version_info.major}{sys.version_info.minor}"
            return f"host-cp{version}-{sys.platform}-{platform.machine()}"
        return f"cp{(self.python_version or '').replace('.', '')}-{'+'.join(self.platforms)}"

    def pip_arguments(self) -> list[str]:
        if not self.platforms:
            return []
        args: list[str] = []
        for tag in self.platforms:
            args += ["--platform", tag]
        args += ["--only-binary=:all:", "--implementation", "cp"]
        if self.python_version:
            args += ["--python-version", self.python_version]
        return args


def _distribution_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a distribution name from requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def layer_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """[project].dependencies less what the Lambda runtime already provides."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements: list[str] = project.get("dependencies", [])
    return [req for req in requirements if _distribution_name(req) not in RUNTIME_PROVIDED]


def _source_files(package: Path) -> list[Path]:
    files = [
        path
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}
    ]
    return sorted(files)


def cache_key(target: LayerTarget, pyproject: Path = PYPROJECT, package: Path = SHARED_PACKAGE) -> str:
    digest = hashlib.sha256()
    digest.update(f"format={_FORMAT}\ntarget={target.label}\n".encode())
    digest.update(pyproject.read_bytes())
    for path in _source_files(package):
        digest.update(b"\0" + path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _pip_install(requirements: Iterable[str], target: LayerTarget, destination: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",  # .pyc files built here would be for this interpreter, not the runtime's
        "--disable-pip-version-check",
        *target.pip_arguments(),
        "--target",
        str(destination),
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise LayerBuildError(
            f"pip could not build the layer for {target.label} (exit {result.returncode}):\n{result.stderr}"
        )


def _build(directory: Path, target: LayerTarget, pyproject: Path, package: Path) -> None:
    site = directory / "python"
    site.mkdir(parents=True)
    requirements = layer_requirements(pyproject)
    if requirements:
        _pip_install(requirements, target, site)
    # Console scripts are of no use in a layer.
    shutil.rmtree(site / "bin", ignore_errors=True)
    shutil.copytree(package, site / package.name, ignore=shutil.ignore_patterns(*_IGNORED_NAMES))


def _copy_tree(source: Path, destination: Path) -> None:
    def link_or_copy(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            return shutil.copy2(src, dst)

    shutil.copytree(source, destination, copy_function=link_or_copy, dirs_exist_ok=True)


def build_layer(
    output_dir: Path,
    target: LayerTarget,
    *,
    pyproject: Path = PYPROJECT,
    package: Path = SHARED_PACKAGE,
    cache_dir: Path = CACHE_DIR,
) -> Path:
    """Puts the layer's `python/` folder into output_dir (from the cache when it is there)."""
    key = cache_key(target, pyproject, package)
    cached = cache_dir / key
    if not (cached / "python").is_dir():
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = cache_dir / f".{key}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            _build(staging, target, pyproject, package)
            staging.rename(cached)
        except OSError:
            # Another build of the same key finished first: keep its result.
            if not (cached / "python").is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _prune(cache_dir, keep=CACHE_ENTRIES)
    else:
        cached.touch()  # mark as recently used
    _copy_tree(cached / "python", output_dir / "python")
    return output_dir / "python"


def _prune(cache_dir: Path, *, keep: int) -> None:
    entries = [path for path in cache_dir.iterdir() if path.is_dir() and not path.name.startswith(".")]
    entries.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        shutil.rmtree(stale, ignore_errors=True)


@jsii.implements(ILocalBundling)
class LocalLayerBundling:
    """CDK local bundling for the layer asset: CDK calls try_bundle instead of running Docker."""

    def __init__(self, target: LayerTarget, *, cache_dir: Path = CACHE_DIR) -> None:
        self.target = target
        self.cache_dir = cache_dir

    @property
    def asset_hash(self) -> str:
        """The asset's hash: the cache key, so CDK reuses a staged asset with the same inputs."""
        return cache_key(self.target)

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        build_layer(Path(output_dir), self.target, cache_dir=self.cache_dir)
        return True
