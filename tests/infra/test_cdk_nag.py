"""cdk-nag AwsSolutions: no unacknowledged finding, and every acknowledgment is specific and explained."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Aspects, Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks
from cfn import Template
from synthesis import Synth

AWS_SOLUTIONS = Match.string_like_regexp(r"AwsSolutions-")


def _messages(found: list[Any]) -> str:
    return "\n".join(f"{m.id}: {m.entry.data}" for m in found)


def test_stack_has_no_unacknowledged_aws_solutions_error(synth: Synth) -> None:
    errors = Annotations.from_stack(synth.stack).find_error("*", AWS_SOLUTIONS)
    assert not errors, _messages(errors)


def test_stack_has_no_unacknowledged_aws_solutions_warning(synth: Synth) -> None:
    warnings = Annotations.from_stack(synth.stack).find_warning("*", AWS_SOLUTIONS)
    assert not warnings, _messages(warnings)


def test_the_checks_ran_over_the_stack(synth: Synth) -> None:
    report = (synth.outdir / "AwsSolutions--Tidings-NagReport.csv").read_text().splitlines()
    rows = [line.split(",") for line in report[1:]]

    assert len(rows) > 20
    assert {row[2].strip('"') for row in rows} <= {"Compliant", "Suppressed"}


def _acknowledgments(template: Template) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for lid, resource in template["Resources"].items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.append((lid, rule))
    return found


def test_every_acknowledgment_names_its_finding_and_says_why(template: Template) -> None:
    acknowledgments = _acknowledgments(template)

    assert acknowledgments
    for lid, rule in acknowledgments:
        assert rule["id"].startswith("AwsSolutions-"), lid
        assert len(rule["reason"]) >= 60, f"{lid} {rule['id']}: give the reason, not a label"


def test_wildcard_permissions_are_acknowledged_one_by_one(template: Template) -> None:
    for lid, rule in _acknowledgments(template):
        if rule["id"] in {"AwsSolutions-IAM4", "AwsSolutions-IAM5"}:
            assert rule.get("applies_to"), f"{lid}: a blanket {rule['id']} acknowledgment hides new findings"


def test_an_unacknowledged_finding_is_reported() -> None:
    app = App()
    stack = Stack(app, "Probe")
    sqs.Queue(stack, "PlainQueue")  # no dead-letter queue, no TLS-only policy
    Aspects.of(app).add(AwsSolutionsChecks())

    errors = Annotations.from_stack(stack).find_error("*", AWS_SOLUTIONS)

    assert any("AwsSolutions-SQS" in str(e.entry.data) for e in errors)
