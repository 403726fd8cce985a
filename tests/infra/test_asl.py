"""asl-validator on every state machine definition, and proof that it rejects a broken one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra.topology import STATE_MACHINES, STATE_MACHINES_DIR, StateMachineSpec, render_definition

ROOT = Path(__file__).resolve().parents[2]
ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
ASL_FILES = sorted(STATE_MACHINES_DIR.glob("*.asl.json"))
SAMPLE_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{name}"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    assert ASL_VALIDATOR.exists(), "node tools missing: run `make setup`"
    return subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False
    )


def test_every_state_machine_of_the_topology_has_its_file_here() -> None:
    assert {spec.definition_file for spec in STATE_MACHINES} <= set(ASL_FILES)


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda path: path.name)
def test_asl_file_is_valid(path: Path) -> None:
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("spec", STATE_MACHINES, ids=lambda spec: spec.name)
def test_asl_is_valid_once_arns_are_substituted(spec: StateMachineSpec, tmp_path: Path) -> None:
    arns = {fn: SAMPLE_ARN.format(name=fn) for fn in spec.lambda_substitutions.values()}
    rendered = tmp_path / spec.definition_file.name
    rendered.write_text(render_definition(spec, arns))

    result = validate(rendered)

    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_a_transition_to_a_missing_state(tmp_path: Path) -> None:
    definition = json.loads(ASL_FILES[0].read_text())
    first = definition["StartAt"]
    definition["States"][first]["Next"] = "NoSuchState"
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps(definition))

    result = validate(broken)

    assert result.returncode != 0
