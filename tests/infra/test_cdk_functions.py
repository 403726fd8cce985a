"""Each topology function: runtime, architecture, handler, sizing, layer, tracing, logs, environment."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
from cfn import Template, by_path, function, only, project_functions, project_layer, ref
from synthesis import Synth

from infra.constructs.functions import construct_id
from infra.topology import FUNCTIONS, Access, FunctionSpec

POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": "tidings",
    "POWERTOOLS_METRICS_NAMESPACE": "Tidings",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def expected_tidings_environment(spec: FunctionSpec) -> set[str]:
    names: set[str] = set()
    if spec.access & {Access.TABLE_READ, Access.TABLE_WRITE, Access.TABLE_STREAM}:
        names.add("TIDINGS_TABLE_NAME")
    if spec.access & {Access.START_PUBLISH, Access.MANAGE_SCHEDULES}:
        names.add("TIDINGS_PUBLISH_STATE_MACHINE_ARN")
    if Access.MANAGE_SCHEDULES in spec.access:
        names |= {
            "TIDINGS_SCHEDULE_GROUP",
            "TIDINGS_SCHEDULER_ROLE_ARN",
            "TIDINGS_SCHEDULER_DLQ_ARN",
            "TIDINGS_TASK_RUNNER_ARN",
            "TIDINGS_INTEGRATION_SYNC_ARN",
            "TIDINGS_CAMPAIGN_SEND_ARN",
        }
    if Access.ENQUEUE_CAMPAIGN_SENDS in spec.access:
        names.add("TIDINGS_CAMPAIGN_SEND_QUEUE_URL")
    if Access.SEND_CAMPAIGN_EMAIL in spec.access:
        # and TIDINGS_CAMPAIGN_FROM_ADDRESS with sesFromAddress in the context (test_cdk_campaign_send.py)
        names |= {"TIDINGS_CAMPAIGN_CONFIGURATION_SET", "TIDINGS_CAMPAIGN_SEND_CONCURRENCY"}
    if spec.access & {Access.SEAL_CREDENTIALS, Access.OPEN_CREDENTIALS}:
        names.add("TIDINGS_CREDENTIALS_KEY_ID")
    if Access.OPEN_CREDENTIALS in spec.access:  # the app secrets (test_cdk_app_secrets.py)
        names.add("TIDINGS_APP_SECRETS_ARN")
    if spec.access & {Access.RUN_WORKFLOWS, Access.ANSWER_WORKFLOW_TOKENS, Access.RECOVER_WORKFLOWS}:
        names.add("TIDINGS_WORKFLOW_STATE_MACHINE_ARN")
    if Access.UNSUBSCRIBE_LINKS in spec.access:
        names |= {"TIDINGS_UNSUBSCRIBE_SECRET_ARN", "TIDINGS_PUBLIC_API_URL"}
    if Access.POST_TO_CONNECTIONS in spec.access:
        names.add("TIDINGS_LIVE_ENDPOINT_URL")
    if spec.name == "live_connections":  # it checks the access tokens live connections open with
        names |= {"TIDINGS_LIVE_ISSUER_URL", "TIDINGS_LIVE_CLIENT_IDS", "TIDINGS_LIVE_JWKS_URL"}
    return names


def test_there_is_one_function_per_topology_function(template: Template) -> None:
    assert len(project_functions(template)) == len(FUNCTIONS)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_runs_python_3_14_on_arm64_with_the_layer_and_tracing(
    template: Template, spec: FunctionSpec
) -> None:
    _, fn = function(template, spec.name)
    props = fn["Properties"]
    layer_id, _ = project_layer(template)

    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == spec.handler
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_seconds
    assert props["Description"] == spec.description
    assert [ref(layer) for layer in props["Layers"]] == [layer_id]
    assert props["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_logs_to_its_own_group_with_retention(template: Template, spec: FunctionSpec) -> None:
    _, fn = function(template, spec.name)
    group_id, group = by_path(template, f"Functions/{construct_id(spec.name)}/Logs/Resource")

    assert ref(fn["Properties"]["LoggingConfig"]["LogGroup"]) == group_id
    assert group["Properties"]["RetentionInDays"] == 30


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_environment_holds_powertools_and_only_the_settings_its_access_needs(
    template: Template, spec: FunctionSpec
) -> None:
    _, fn = function(template, spec.name)
    variables = fn["Properties"]["Environment"]["Variables"]

    assert {k: v for k, v in variables.items() if k.startswith("POWERTOOLS_")} == POWERTOOLS
    assert {k for k in variables if k.startswith("TIDINGS_")} == expected_tidings_environment(spec)


def test_environment_points_at_the_stack_resources(template: Template) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    machine_id, _ = by_path(template, "Publishing/PublishPost/StateMachine/Resource")
    group_id, group = only(template, "AWS::Scheduler::ScheduleGroup")
    scheduler_role_id, _ = by_path(template, "Scheduling/PublishRole/Resource")
    dlq_id, _ = by_path(template, "Scheduling/DeadLetterQueue/Resource")
    _, sync = function(template, "schedule_sync")
    variables = sync["Properties"]["Environment"]["Variables"]

    assert ref(variables["TIDINGS_TABLE_NAME"]) == table_id
    assert ref(variables["TIDINGS_PUBLISH_STATE_MACHINE_ARN"]) == machine_id
    assert variables["TIDINGS_SCHEDULE_GROUP"] == group["Properties"]["Name"] == "tidings"
    assert ref(variables["TIDINGS_SCHEDULER_ROLE_ARN"]) == scheduler_role_id
    assert ref(variables["TIDINGS_SCHEDULER_DLQ_ARN"]) == dlq_id
    assert group_id


def _asset_dir(synth: Synth, resource: dict[str, object]) -> Path:
    metadata = resource["Metadata"]
    assert isinstance(metadata, dict)
    return synth.outdir / str(metadata["aws:asset:path"])


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_code_is_its_folder_alone(synth: Synth, template: Template, spec: FunctionSpec) -> None:
    _, fn = function(template, spec.name)
    asset = _asset_dir(synth, fn)
    ignored = ["__pycache__"]

    comparison = filecmp.dircmp(asset, spec.folder, ignore=ignored)
    assert not comparison.left_only, f"files in the asset that are not in {spec.folder}"
    assert not comparison.right_only, f"files of {spec.folder} missing from the asset"
    assert not comparison.diff_files
