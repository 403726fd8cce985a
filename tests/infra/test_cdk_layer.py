"""The layer: arm64 / python3.14, holding `tidings` and its dependencies for Lambda, not boto3."""

from __future__ import annotations

from pathlib import Path

from cfn import Template, project_layer
from synthesis import Synth


def _layer_dir(synth: Synth, template: Template) -> Path:
    _, layer = project_layer(template)
    return synth.outdir / layer["Metadata"]["aws:asset:path"]


def test_layer_is_for_python_3_14_on_arm64(template: Template) -> None:
    _, layer = project_layer(template)

    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_layer_holds_tidings_and_its_dependencies_under_python(synth: Synth, template: Template) -> None:
    site = _layer_dir(synth, template) / "python"

    assert (site / "tidings" / "__init__.py").is_file()
    for package in ("pydantic", "pydantic_core", "aws_lambda_powertools", "httpx"):
        assert (site / package / "__init__.py").is_file(), package
    # boto3 comes with the Lambda runtime.
    assert not (site / "boto3").exists()
    assert not (site / "botocore").exists()


def test_layer_binaries_are_built_for_lambda_not_for_this_machine(synth: Synth, template: Template) -> None:
    site = _layer_dir(synth, template) / "python"

    extensions = [path.name for path in (site / "pydantic_core").glob("*.so")]
    assert extensions, "pydantic_core ships a compiled extension"
    assert all("cpython-314-aarch64-linux-gnu" in name for name in extensions), extensions


def test_layer_carries_no_bytecode_or_scripts(synth: Synth, template: Template) -> None:
    site = _layer_dir(synth, template) / "python"

    assert not list(site.rglob("*.pyc"))
    assert not (site / "bin").exists()
