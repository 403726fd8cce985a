"""Every handler imports with only what Lambda gives it: its folder, the layer and the runtime's boto3.

Each import runs in a fresh interpreter started with -I -S (no site-packages, no environment paths)
and an explicit sys.path: the function folder (/var/task), the layer's python/ folder (/opt/python)
and the boto3 distribution the runtime ships. The layer is built for this machine by the same
bundling code that builds it for Lambda.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from cfn import Template, function

from infra.layer_bundling import LayerTarget, build_layer
from infra.topology import FUNCTIONS, FunctionSpec

# What a boto3 import pulls in, as the Lambda runtime provides it.
RUNTIME_SDK = "boto3"

PROBE = """
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
module_name, attribute = sys.argv[2].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), attribute)
assert callable(handler), f"{sys.argv[2]} is not callable"
files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})
print(json.dumps(files))
"""


def _requirement_names(distribution: importlib.metadata.Distribution) -> list[str]:
    names = []
    for requirement in distribution.requires or []:
        if "extra ==" in requirement:
            continue
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        if match:
            names.append(match.group(0))
    return names


def _top_level(distribution: importlib.metadata.Distribution) -> set[str]:
    names = set()
    for file in distribution.files or []:
        first = file.parts[0]
        if first in {"..", "__pycache__"} or first.endswith((".dist-info", ".egg-info", ".pth")):
            continue
        names.add(first)
    return names


def runtime_sdk_dir(destination: Path) -> Path:
    """A folder holding boto3 and what it requires, linked from this environment."""
    destination.mkdir()
    pending, seen = [RUNTIME_SDK], set()
    while pending:
        distribution = importlib.metadata.distribution(pending.pop())
        name = distribution.metadata["Name"].lower()
        if name in seen:
            continue
        seen.add(name)
        pending += _requirement_names(distribution)
        for top in _top_level(distribution):
            source = Path(str(distribution.locate_file(top)))
            if source.exists():
                (destination / top).symlink_to(source)
    return destination


@pytest.fixture(scope="session")
def lambda_paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the layer's python/ folder built for this machine, the runtime SDK folder)."""
    base = tmp_path_factory.mktemp("lambda")
    layer = build_layer(base / "layer", LayerTarget.host())
    return layer, runtime_sdk_dir(base / "sdk")


def _placeholder(value: Any) -> str:
    return (
        value if isinstance(value, str) else "arn:aws:states:us-east-1:123456789012:stateMachine:placeholder"
    )


def import_handler(folder: Path, handler: str, paths: tuple[Path, Path], env: dict[str, str]) -> list[str]:
    layer, sdk = paths
    search = [str(folder), str(layer), str(sdk)]
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, json.dumps(search), handler],
        capture_output=True,
        text=True,
        env={"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", **env},
        cwd=folder,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{folder.name}: {handler} does not import:\n{result.stderr}"
    files: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return files


def _allowed_roots(folder: Path, paths: tuple[Path, Path]) -> tuple[str, ...]:
    stdlib = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
    return (str(folder), str(paths[0]), str(paths[1]), *sorted(stdlib))


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_handler_imports_with_its_folder_the_layer_and_boto3_only(
    spec: FunctionSpec, template: Template, lambda_paths: tuple[Path, Path]
) -> None:
    module = spec.handler.rsplit(".", 1)[0].replace(".", "/")
    assert (spec.folder / f"{module}.py").is_file(), f"{spec.folder}/{module}.py is missing"
    _, fn = function(template, spec.name)
    env = {k: _placeholder(v) for k, v in fn["Properties"]["Environment"]["Variables"].items()}

    loaded = import_handler(spec.folder, spec.handler, lambda_paths, env)

    roots = _allowed_roots(spec.folder, lambda_paths)
    outside = [path for path in loaded if not path.startswith(roots)]
    assert not outside, f"{spec.name} loaded modules from outside its Lambda paths: {outside}"


def _fake_function(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "fake_function"
    folder.mkdir()
    (folder / "handler.py").write_text(source)
    return folder


def test_probe_imports_tidings_from_the_layer_and_boto3_from_the_runtime(
    tmp_path: Path, lambda_paths: tuple[Path, Path]
) -> None:
    folder = _fake_function(
        tmp_path,
        "import boto3\nimport pydantic\nimport tidings\n\n"
        "def lambda_handler(event, context):\n    return {}\n",
    )

    loaded = import_handler(folder, "handler.lambda_handler", lambda_paths, {})

    layer, sdk = lambda_paths
    assert any(path.startswith(str(layer / "tidings")) for path in loaded)
    assert any(path.startswith(str(layer / "pydantic")) for path in loaded)
    assert any(path.startswith(str(sdk / "boto3")) for path in loaded)


def test_probe_fails_for_a_package_that_is_only_in_the_dev_environment(
    tmp_path: Path, lambda_paths: tuple[Path, Path]
) -> None:
    folder = _fake_function(tmp_path, "import pytest\n\ndef lambda_handler(event, context):\n    return {}\n")

    with pytest.raises(AssertionError, match="No module named 'pytest'"):
        import_handler(folder, "handler.lambda_handler", lambda_paths, {})


def test_the_layer_analyzes_comments_with_vaders_lexicons_inside_it(lambda_paths: tuple[Path, Path]) -> None:
    layer, sdk = lambda_paths
    probe = (
        "import json, sys; sys.path[:0] = json.loads(sys.argv[1]);"
        "from tidings.engagement.analysis import AnalysisContext, CommentText, local_analyzer;"
        "a = local_analyzer().analyze([CommentText('c', 'What a gorgeous home!', 'facebook', None, None)],"
        " AnalysisContext(allow_hide=True, recent_texts=()))[0];"
        "import vaderSentiment; print(a.sentiment, vaderSentiment.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, json.dumps([str(layer), str(sdk)])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    sentiment, location = result.stdout.split()
    assert sentiment == "positive"
    assert location.startswith(str(layer))
