"""checkov over the synthesised template, a second opinion beside cdk-nag and cfn-lint.

Every check passes, or is skipped on its resource with a reason (infra/constructs/checkov.py); the
tests below also check that what each kind of skip claims is true of the template.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfn import Template
from synthesis import ROOT, Synth

from infra import topology
from infra.constructs import checkov as skips

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

# What to do about a failed check, printed beside it.
HINTS = {
    "CKV_AWS_115": "give the function reserved_concurrency in infra/topology.py (within CONCURRENCY_BUDGET)",
    "CKV_AWS_116": "name the function in topology.asynchronously_invoked() if a schedule or rule invokes it",
    "CKV_AWS_158": "the stack's EncryptLogGroups aspect gives it the logs key (log_encryption.py)",
}


def run_checkov(template: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make test` installs it (requirements-checkov.txt)")
    # --skip-download: nothing is fetched (no platform guidelines, no custom policies), so the run
    # needs no network and gives the same answer everywhere.
    result = subprocess.run(
        [str(CHECKOV), "-f", str(template), "--framework", "cloudformation", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        check=False,
        cwd=template.parent,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _describe(failed: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{f['check_id']} {f['resource']}: {f['check_name']}"
        + (f" ({HINTS[f['check_id']]})" if f["check_id"] in HINTS else "")
        for f in failed
    )


@pytest.fixture(scope="module")
def report(synth: Synth) -> dict[str, Any]:
    return run_checkov(synth.template_path)


def test_every_check_passes_or_is_skipped_with_its_reason(report: dict[str, Any]) -> None:
    failed = report["results"]["failed_checks"]

    assert not failed, f"{len(failed)} checkov check(s) failed:\n{_describe(failed)}"


def test_the_checks_ran_over_the_stack(report: dict[str, Any]) -> None:
    summary = report["summary"]

    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 100
    assert summary["passed"] > 300


def test_every_skip_comes_from_the_table_with_its_reason(report: dict[str, Any]) -> None:
    table = {(skip.check, skip.reason) for skip in skips.SKIPS}

    skipped = report["results"]["skipped_checks"]

    assert skipped
    for check in skipped:
        comment = check["check_result"].get("suppress_comment")
        assert (check["check_id"], comment) in table, f"{check['resource']}: {check['check_id']} {comment}"


def test_checkov_reports_a_failure_and_honours_a_skip(tmp_path: Path) -> None:
    reason = skips.NO_VPC.reason
    template = {
        "Resources": {
            "Plain": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Answered": {
                "Type": "AWS::SQS::Queue",
                "Properties": {},
                "Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_27", "comment": reason}]}},
            },
        }
    }
    path = tmp_path / "probe.template.json"
    path.write_text(json.dumps(template))

    results = run_checkov(path)["results"]

    assert [f["resource"] for f in results["failed_checks"] if f["check_id"] == "CKV_AWS_27"] == [
        "AWS::SQS::Queue.Plain"
    ]
    skipped = [s for s in results["skipped_checks"] if s["check_id"] == "CKV_AWS_27"]
    assert [(s["resource"], s["check_result"]["suppress_comment"]) for s in skipped] == [
        ("AWS::SQS::Queue.Answered", reason)
    ]


# What the skips claim, checked on the template itself.


def _skipped(resource: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["comment"] for s in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])}


def _of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def _refs(value: Any) -> set[str]:
    """Logical ids that `value` points to (Ref and Fn::GetAtt), at any depth."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= _refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= _refs(item)
    return found


def _asynchronous_invokers(template: Template) -> dict[str, str]:
    """Functions some schedule or rule of the template invokes (asynchronously), with who does."""
    functions = set(_of_type(template, "AWS::Lambda::Function"))
    invoked: dict[str, str] = {}
    for lid, schedule in _of_type(template, "AWS::Scheduler::Schedule").items():
        for fn in _refs(schedule["Properties"]["Target"]["Arn"]) & functions:
            invoked[fn] = lid
    for lid, rule in _of_type(template, "AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            for fn in _refs(target["Arn"]) & functions:
                invoked[fn] = lid
    # The schedules schedule_sync creates at run time: their role may invoke these functions.
    for lid, policy in _of_type(template, "AWS::IAM::Policy").items():
        roles = {r for role in policy["Properties"].get("Roles", []) for r in _refs(role)}
        if not any(
            "scheduler.amazonaws.com" in json.dumps(template["Resources"][role]["Properties"])
            for role in roles
        ):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "lambda:InvokeFunction" in json.dumps(statement.get("Action")):
                for fn in _refs(statement["Resource"]) & functions:
                    invoked[fn] = lid
    return invoked


def _on_failure_destinations(template: Template) -> dict[str, str]:
    """Function logical id -> the SQS queue its asynchronous invocations fail to."""
    queues = set(_of_type(template, "AWS::SQS::Queue"))
    found = {}
    for config in _of_type(template, "AWS::Lambda::EventInvokeConfig").values():
        (function,) = _refs(config["Properties"]["FunctionName"])
        on_failure = config["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
        for queue in _refs(on_failure) & queues:
            found[function] = queue
    return found


def test_every_asynchronously_invoked_function_has_an_alarmed_on_failure_queue(template: Template) -> None:
    invokers = _asynchronous_invokers(template)
    destinations = _on_failure_destinations(template)
    alarmed = {lid for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values() for lid in _refs(alarm)}

    assert len(invokers) >= len(topology.asynchronously_invoked())
    for function, invoker in invokers.items():
        assert function in destinations, f"{invoker} invokes {function}, whose failures go nowhere"
        assert destinations[function] in alarmed, f"{function}'s on-failure queue has no alarm"


def test_a_function_skipped_as_synchronous_is_invoked_by_no_schedule_or_rule(template: Template) -> None:
    invokers = _asynchronous_invokers(template)
    destinations = _on_failure_destinations(template)

    service_tokens = _service_tokens(template)

    for lid, function in _of_type(template, "AWS::Lambda::Function").items():
        reason = _skipped(function).get("CKV_AWS_116")
        if reason == skips.INVOKED_SYNCHRONOUSLY.reason:
            assert lid not in invokers, f"{invokers[lid]} invokes {lid} asynchronously"
        elif reason == skips.CUSTOM_RESOURCE_HANDLER.reason:
            assert lid not in invokers, f"{invokers[lid]} invokes {lid}"
            assert lid in service_tokens, f"{lid} is skipped as a custom resource handler but serves none"
        else:
            assert reason == skips.ON_FAILURE_DESTINATION.reason, lid
            assert lid in destinations, f"{lid} is skipped for its on-failure destination but has none"


def _service_tokens(template: Template) -> set[str]:
    """Functions that are the ServiceToken of a custom resource (CloudFormation invokes them)."""
    return {
        lid
        for resource in template["Resources"].values()
        if resource["Type"].startswith("Custom::")
        for lid in _refs(resource["Properties"].get("ServiceToken"))
    }


def test_only_cdks_custom_resource_handlers_are_skipped_as_such(template: Template) -> None:
    service_tokens = _service_tokens(template)
    handler_skips = {
        skips.CUSTOM_RESOURCE_HANDLER,
        skips.DEPLOYMENT_HANDLER_NO_VPC,
        skips.DEPLOYMENT_HANDLER_ENVIRONMENT,
    }

    for lid, function in _of_type(template, "AWS::Lambda::Function").items():
        skipped = set(_skipped(function).items())
        if skipped & {(skip.check, skip.reason) for skip in handler_skips}:
            assert lid in service_tokens, lid
            assert not function["Metadata"]["aws:cdk:path"].startswith("Tidings/Functions/"), lid


def _distributions_skipped(template: Template, skip: skips.Skip) -> dict[str, dict[str, Any]]:
    found = {
        lid: d["Properties"]["DistributionConfig"]
        for lid, d in _of_type(template, "AWS::CloudFront::Distribution").items()
        if _skipped(d).get(skip.check) == skip.reason
    }
    assert found, f"no distribution skips {skip.check}"
    return found


def test_a_distribution_skipped_for_tls_uses_cloudfronts_default_certificate(template: Template) -> None:
    for lid, config in _distributions_skipped(template, skips.DEFAULT_CERTIFICATE_TLS).items():
        certificate = config.get("ViewerCertificate", {"CloudFrontDefaultCertificate": True})
        assert certificate.get("CloudFrontDefaultCertificate") is True, lid
        assert "AcmCertificateArn" not in certificate, lid
        assert "Aliases" not in config, lid


def test_a_distribution_skipped_for_waf_serves_one_s3_bucket_for_reading_only(template: Template) -> None:
    buckets = set(_of_type(template, "AWS::S3::Bucket"))

    for lid, config in _distributions_skipped(template, skips.STATIC_SITE_NO_WAF).items():
        (origin,) = config["Origins"]
        assert _refs(origin["DomainName"]) <= buckets, lid
        assert "S3OriginConfig" in origin, lid
        behaviors = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
        for behavior in behaviors:
            assert set(behavior.get("AllowedMethods", ["GET", "HEAD"])) <= {"GET", "HEAD"}, lid


def test_a_distribution_skipped_for_failover_has_one_origin(template: Template) -> None:
    for lid, config in _distributions_skipped(template, skips.SINGLE_ORIGIN).items():
        assert len(config["Origins"]) == 1, lid
        assert "OriginGroups" not in config, lid


def test_a_bucket_skipped_for_access_logging_is_where_access_logs_go(template: Template) -> None:
    log_targets: set[str] = set()
    for bucket in _of_type(template, "AWS::S3::Bucket").values():
        logging = bucket["Properties"].get("LoggingConfiguration", {})
        log_targets |= _refs(logging.get("DestinationBucketName"))
    for distribution in _of_type(template, "AWS::CloudFront::Distribution").values():
        config = distribution["Properties"]["DistributionConfig"]
        log_targets |= _refs(config.get("Logging", {}).get("Bucket"))
    buckets = _of_type(template, "AWS::S3::Bucket")

    for lid, bucket in buckets.items():
        if "CKV_AWS_18" in _skipped(bucket):
            assert lid in log_targets, f"{lid} is skipped as a log bucket but no access log goes there"
        else:
            assert "LoggingConfiguration" in bucket["Properties"], f"{lid} keeps no access log"


def test_every_queue_skipped_for_encryption_is_encrypted_by_sqs(template: Template) -> None:
    for lid, queue in _of_type(template, "AWS::SQS::Queue").items():
        if "CKV_AWS_27" in _skipped(queue):
            assert queue["Properties"].get("SqsManagedSseEnabled") is True, lid


# A name that speaks of a secret may only name where one is kept.
_SECRET_WORDS = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY|CLIENT_KEY|SYSTEM_KEY")
_REFERENCE = re.compile(r"_(ARN|KEY_ID|URL|NAME)$")


def test_no_function_environment_holds_a_secret(template: Template) -> None:
    for lid, function in _of_type(template, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for name in variables:
            if _SECRET_WORDS.search(name):
                assert _REFERENCE.search(name), f"{lid}: {name} looks like a secret in the environment"


def test_every_log_group_is_encrypted_with_the_logs_key(template: Template) -> None:
    (logs_key,) = [lid for lid, key in _of_type(template, "AWS::KMS::Key").items() if _logs(key)]
    groups = _of_type(template, "AWS::Logs::LogGroup")

    assert groups
    for lid, group in groups.items():
        assert group["Properties"].get("KmsKeyId") == {"Fn::GetAtt": [logs_key, "Arn"]}, lid


def _logs(key: dict[str, Any]) -> bool:
    return any(
        "kms:EncryptionContext:aws:logs:arn" in json.dumps(statement.get("Condition", {}))
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
    )


def test_only_cloudwatch_logs_of_this_account_and_region_may_use_the_logs_key(template: Template) -> None:
    (key,) = [k for k in _of_type(template, "AWS::KMS::Key").values() if _logs(k)]
    (statement,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]

    assert json.dumps(statement["Principal"]["Service"]) == json.dumps(
        {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    )
    condition = json.dumps(statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    for part in ("AWS::Partition", "AWS::Region", "AWS::AccountId", ":log-group:*"):
        assert part in condition
    assert key["Properties"]["EnableKeyRotation"] is True


def test_every_function_reserves_concurrency_within_the_budget(template: Template) -> None:
    reserved = {
        lid: fn["Properties"].get("ReservedConcurrentExecutions")
        for lid, fn in _of_type(template, "AWS::Lambda::Function").items()
    }

    assert all(reserved.values()), [lid for lid, n in reserved.items() if not n]
    assert sum(reserved.values()) <= topology.CONCURRENCY_BUDGET
    assert topology.CONCURRENCY_BUDGET <= (
        topology.ACCOUNT_CONCURRENCY - topology.UNRESERVED_CONCURRENCY_MINIMUM
    )
