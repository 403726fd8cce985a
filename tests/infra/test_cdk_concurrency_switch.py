"""Reserved concurrency can be turned off for an account still on a new account's reduced Lambda
quota (`-c reserveConcurrency=false`), where Lambda would refuse the reservations; each function then
carries checkov's skip of CKV_AWS_115 with the reason, and any other value is refused at synth."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App
from cfn import Template, function
from synthesis import cdk_context

from infra.constructs.checkov import NO_RESERVATION_IN_A_SMALL_ACCOUNT
from infra.stack import build
from infra.topology import FUNCTIONS


def _synth(outdir: Path, value: str) -> Template:
    app = App(outdir=str(outdir), context={**cdk_context(), "reserveConcurrency": value})
    stack = build(app)
    template: Template = app.synth().get_stack_by_name(stack.stack_name).template
    return template


@pytest.fixture(scope="module")
def unreserved(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return _synth(tmp_path_factory.mktemp("cdk.out.unreserved"), "false")


def test_turned_off_no_function_reserves_and_each_says_why(unreserved: Template) -> None:
    for spec in FUNCTIONS:
        _, fn = function(unreserved, spec.name)
        assert "ReservedConcurrentExecutions" not in fn["Properties"], spec.name
        skips = fn.get("Metadata", {}).get("checkov", {}).get("skip", [])
        assert {"id": "CKV_AWS_115", "comment": NO_RESERVATION_IN_A_SMALL_ACCOUNT.reason} in skips, spec.name


def test_by_default_every_function_reserves_what_the_topology_gives_it(template: Template) -> None:
    for spec in FUNCTIONS:
        _, fn = function(template, spec.name)
        assert fn["Properties"]["ReservedConcurrentExecutions"] == spec.reserved_concurrency, spec.name


def test_another_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserveConcurrency"):
        _synth(tmp_path, "maybe")
