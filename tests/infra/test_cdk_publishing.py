"""The state machines: each the same ASL file as the local runtime, with its functions' ARNs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfn import Template, allowed, by_path, function, ref, render
from synthesis import Synth

from infra.constructs.constants import construct_id
from infra.topology import STATE_MACHINES, StateMachineSpec, render_definition


def _deployed_definition(synth: Synth, machine: dict[str, Any]) -> str:
    """The definition CloudFormation creates: the staged file with DefinitionSubstitutions applied."""
    key = machine["Properties"]["DefinitionS3Location"]["Key"]
    text = (synth.outdir / f"asset.{key}").read_text()
    for placeholder, value in machine["Properties"]["DefinitionSubstitutions"].items():
        text = text.replace("${" + placeholder + "}", render(value))
    return text


def machine_of(template: Template, spec: StateMachineSpec) -> dict[str, Any]:
    return by_path(template, f"Publishing/{construct_id(spec.name)}/StateMachine/Resource")[1]


MACHINES = pytest.mark.parametrize("spec", STATE_MACHINES, ids=lambda spec: spec.name)


def test_there_is_one_machine_per_topology_state_machine(template: Template) -> None:
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == len(STATE_MACHINES) == 2


@MACHINES
def test_definition_is_the_asl_file_with_each_placeholder_replaced(
    synth: Synth, template: Template, spec: StateMachineSpec
) -> None:
    machine = machine_of(template, spec)
    arns = {fn: f"<{function(template, fn)[0]}.Arn>" for fn in spec.lambda_substitutions.values()}

    deployed = _deployed_definition(synth, machine)

    assert json.loads(deployed) == json.loads(render_definition(spec, arns))
    assert "${" not in deployed


@MACHINES
def test_every_placeholder_of_the_asl_file_has_a_substitution(
    template: Template, spec: StateMachineSpec
) -> None:
    machine = machine_of(template, spec)

    placeholders = set(re.findall(r"\$\{(\w+)\}", spec.definition_file.read_text()))

    assert (
        placeholders
        == set(machine["Properties"]["DefinitionSubstitutions"])
        == set(spec.lambda_substitutions)
    )


@MACHINES
def test_machine_is_standard_traced_and_logs_errors(template: Template, spec: StateMachineSpec) -> None:
    machine = machine_of(template, spec)
    logs_id, logs = by_path(template, f"Publishing/{construct_id(spec.name)}/Logs/Resource")
    props = machine["Properties"]

    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ERROR"
    (destination,) = props["LoggingConfiguration"]["Destinations"]
    assert ref(destination["CloudWatchLogsLogGroup"]["LogGroupArn"]) == logs_id
    assert logs["Properties"]["RetentionInDays"] == 30


@MACHINES
def test_machine_may_invoke_exactly_its_task_functions(template: Template, spec: StateMachineSpec) -> None:
    machine = machine_of(template, spec)
    role_id = ref(machine["Properties"]["RoleArn"])
    assert role_id is not None

    invokable = allowed(template, role_id)["lambda:InvokeFunction"]

    assert invokable == {f"<{function(template, fn)[0]}.Arn>" for fn in spec.lambda_substitutions.values()}
