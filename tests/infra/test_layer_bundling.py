"""Local layer bundling: what goes in, for which platform, and the build cache."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from infra import layer_bundling
from infra.layer_bundling import LayerBuildError, LayerTarget, build_layer, cache_key, layer_requirements


def _project(tmp_path: Path, dependencies: list[str]) -> tuple[Path, Path]:
    pyproject = tmp_path / "pyproject.toml"
    quoted = ", ".join(f'"{dep}"' for dep in dependencies)
    pyproject.write_text(f'[project]\nname = "demo"\nversion = "1"\ndependencies = [{quoted}]\n')
    package = tmp_path / "shared" / "tidings"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 1\n")
    return pyproject, package


def test_layer_requirements_are_the_project_dependencies_less_boto3(tmp_path: Path) -> None:
    pyproject, _ = _project(tmp_path, ["pydantic==2.14.3", "boto3>=1.40", "httpx[http2]==0.28.1", "Boto3"])

    assert layer_requirements(pyproject) == ["pydantic==2.14.3", "httpx[http2]==0.28.1"]


def test_the_real_layer_requirements_leave_out_boto3_only() -> None:
    names = [req.split("=")[0].split(">")[0].lower() for req in layer_requirements()]

    assert "boto3" not in names
    assert {"pydantic", "httpx", "aws-lambda-powertools"} <= set(names)


def test_lambda_target_asks_pip_for_aarch64_wheels_of_the_runtime_python() -> None:
    args = LayerTarget.lambda_arm64("3.14").pip_arguments()

    assert args[args.index("--platform") + 1] == "manylinux2014_aarch64"
    assert args[args.index("--python-version") + 1] == "3.14"
    assert args[args.index("--implementation") + 1] == "cp"
    assert "--only-binary=:all:" in args


def test_host_target_installs_for_the_running_interpreter() -> None:
    assert LayerTarget.host().pip_arguments() == []


def test_cache_key_follows_sources_dependencies_and_target_but_not_bytecode(tmp_path: Path) -> None:
    pyproject, package = _project(tmp_path, ["pydantic==2.14.3"])
    target = LayerTarget.lambda_arm64("3.14")
    first = cache_key(target, pyproject, package)

    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert cache_key(target, pyproject, package) == first

    assert cache_key(LayerTarget.lambda_arm64("3.13"), pyproject, package) != first
    (package / "__init__.py").write_text("VALUE = 2\n")
    second = cache_key(target, pyproject, package)
    assert second != first
    pyproject.write_text(pyproject.read_text().replace("2.14.3", "2.14.4"))
    assert cache_key(target, pyproject, package) != second


def test_a_second_build_with_the_same_inputs_comes_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject, package = _project(tmp_path, ["somedist==1.0"])
    installs: list[list[str]] = []

    def fake_pip(requirements: Iterable[str], target: LayerTarget, destination: Path) -> None:
        installs.append(list(requirements))
        (destination / "somedist").mkdir()
        (destination / "somedist" / "__init__.py").write_text("")

    monkeypatch.setattr(layer_bundling, "_pip_install", fake_pip)
    cache = tmp_path / "cache"
    for out in ("out1", "out2"):
        site = build_layer(
            tmp_path / out, LayerTarget.host(), pyproject=pyproject, package=package, cache_dir=cache
        )
        assert (site / "somedist" / "__init__.py").is_file()
        assert (site / "tidings" / "__init__.py").read_text() == "VALUE = 1\n"

    assert installs == [["somedist==1.0"]]
    # A changed source is a new build.
    (package / "__init__.py").write_text("VALUE = 3\n")
    site = build_layer(
        tmp_path / "out3", LayerTarget.host(), pyproject=pyproject, package=package, cache_dir=cache
    )
    assert (site / "tidings" / "__init__.py").read_text() == "VALUE = 3\n"
    assert len(installs) == 2


def test_a_failed_pip_install_says_why_and_leaves_no_cache_entry(tmp_path: Path) -> None:
    pyproject, package = _project(tmp_path, ["this is not a requirement!"])
    cache = tmp_path / "cache"

    with pytest.raises(LayerBuildError, match="pip could not build the layer"):
        build_layer(
            tmp_path / "out", LayerTarget.host(), pyproject=pyproject, package=package, cache_dir=cache
        )

    assert not [p for p in cache.iterdir() if (p / "python").is_dir()]


def test_host_label_names_this_interpreter() -> None:
    assert f"cp{sys.version_info.major}{sys.version_info.minor}" in LayerTarget.host().label


def test_the_cache_keeps_only_the_most_recently_used_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject, package = _project(tmp_path, [])
    monkeypatch.setattr(layer_bundling, "CACHE_ENTRIES", 2)
    cache = tmp_path / "cache"

    def build(value: int) -> None:
        (package / "__init__.py").write_text(f"VALUE = {value}\n")
        build_layer(
            tmp_path / f"out{value}",
            LayerTarget.host(),
            pyproject=pyproject,
            package=package,
            cache_dir=cache,
        )

    for value in (1, 2, 3):
        build(value)

    kept = {(entry / "python" / "tidings" / "__init__.py").read_text() for entry in cache.iterdir()}
    assert kept == {"VALUE = 2\n", "VALUE = 3\n"}
