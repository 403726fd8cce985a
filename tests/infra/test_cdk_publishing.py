"""The publish state machine: the same ASL file as the local runtime, with the function's ARN."""

from __future__ import annotations

import json
import re
from typing import Any

from cfn import Template, allowed, by_path, function, only, ref, render
from synthesis import Synth

from infra.topology import PUBLISH_STATE_MACHINE, STATE_MACHINES, render_definition, state_machine


def _deployed_definition(synth: Synth, machine: dict[str, Any]) -> str:
    """The definition CloudFormation creates: the staged file with DefinitionSubstitutions applied."""
    key = machine["Properties"]["DefinitionS3Location"]["Key"]
    text = (synth.outdir / f"asset.{key}").read_text()
    for placeholder, value in machine["Properties"]["DefinitionSubstitutions"].items():
        text = text.replace("${" + placeholder + "}", render(value))
    return text


def test_definition_is_the_asl_file_with_each_placeholder_replaced(synth: Synth, template: Template) -> None:
    spec = state_machine(PUBLISH_STATE_MACHINE)
    _, machine = only(template, "AWS::StepFunctions::StateMachine")
    arns = {fn: f"<{function(template, fn)[0]}.Arn>" for fn in spec.lambda_substitutions.values()}

    deployed = _deployed_definition(synth, machine)

    assert json.loads(deployed) == json.loads(render_definition(spec, arns))
    assert "${" not in deployed


def test_every_placeholder_of_the_asl_file_has_a_substitution(template: Template) -> None:
    spec = state_machine(PUBLISH_STATE_MACHINE)
    _, machine = only(template, "AWS::StepFunctions::StateMachine")

    placeholders = set(re.findall(r"\$\{(\w+)\}", spec.definition_file.read_text()))

    assert placeholders == set(machine["Properties"]["DefinitionSubstitutions"]) == {"PublishTaskFunctionArn"}


def test_machine_is_standard_traced_and_logs_errors(template: Template) -> None:
    _, machine = only(template, "AWS::StepFunctions::StateMachine")
    logs_id, logs = by_path(template, "Publishing/PublishPost/Logs/Resource")
    props = machine["Properties"]

    assert len(STATE_MACHINES) == 1
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ERROR"
    (destination,) = props["LoggingConfiguration"]["Destinations"]
    assert ref(destination["CloudWatchLogsLogGroup"]["LogGroupArn"]) == logs_id
    assert logs["Properties"]["RetentionInDays"] == 30


def test_machine_may_invoke_exactly_its_task_functions(template: Template) -> None:
    spec = state_machine(PUBLISH_STATE_MACHINE)
    _, machine = only(template, "AWS::StepFunctions::StateMachine")
    role_id = ref(machine["Properties"]["RoleArn"])
    assert role_id is not None

    invokable = allowed(template, role_id)["lambda:InvokeFunction"]

    assert invokable == {f"<{function(template, fn)[0]}.Arn>" for fn in spec.lambda_substitutions.values()}
