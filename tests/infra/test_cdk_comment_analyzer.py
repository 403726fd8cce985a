"""The comment analyzer on AWS: comment_intake may call Amazon Comprehend, and is told to, only in a
stack synthesised with `-c commentAnalyzer=comprehend`; otherwise it has neither the actions nor the
setting (the local analyzer calls no AWS service)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App
from cfn import Template, allowed, function, role_of_function
from synthesis import cdk_context

from infra.stack import build
from infra.topology import COMMENT_INTAKE, FUNCTIONS

COMPREHEND = {
    "comprehend:BatchDetectSentiment",
    "comprehend:BatchDetectKeyPhrases",
    "comprehend:DetectToxicContent",
}


@pytest.fixture(scope="module")
def with_comprehend(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The stack as `cdk synth -c commentAnalyzer=comprehend` builds it (cdk-nag checks included)."""
    outdir: Path = tmp_path_factory.mktemp("cdk.out.comprehend")
    app = App(outdir=str(outdir), context={**cdk_context(), "commentAnalyzer": "comprehend"})
    stack = build(app)
    template: Template = app.synth().get_stack_by_name(stack.stack_name).template
    return template


def _environment(template: Template, name: str) -> dict[str, object]:
    _, resource = function(template, name)
    return dict(resource["Properties"].get("Environment", {}).get("Variables", {}))


def test_with_comprehend_on_comment_intake_may_call_its_three_actions_and_is_told_to(
    with_comprehend: Template,
) -> None:
    grants = allowed(with_comprehend, role_of_function(with_comprehend, COMMENT_INTAKE))

    assert {a for a in grants if a.startswith("comprehend:")} == COMPREHEND
    # Comprehend's detect actions have no resource type (Service Authorization Reference)
    assert all(grants[a] == {"*"} for a in COMPREHEND)
    assert _environment(with_comprehend, COMMENT_INTAKE)["TIDINGS_COMMENT_ANALYZER"] == "comprehend"


def test_with_comprehend_on_no_other_function_may_call_it(with_comprehend: Template) -> None:
    for spec in FUNCTIONS:
        if spec.name == COMMENT_INTAKE:
            continue
        grants = allowed(with_comprehend, role_of_function(with_comprehend, spec.name))
        assert not [a for a in grants if a.startswith("comprehend:")], spec.name
        assert "TIDINGS_COMMENT_ANALYZER" not in _environment(with_comprehend, spec.name)


def test_by_default_comment_intake_neither_may_call_comprehend_nor_is_told_to(template: Template) -> None:
    grants = allowed(template, role_of_function(template, COMMENT_INTAKE))

    assert not [a for a in grants if a.startswith("comprehend:")]
    assert "TIDINGS_COMMENT_ANALYZER" not in _environment(template, COMMENT_INTAKE)


def test_an_unknown_analyzer_in_the_context_fails_the_synth() -> None:
    app = App(context={**cdk_context(), "commentAnalyzer": "openai", "aws:cdk:bundling-stacks": []})

    with pytest.raises(ValueError, match="commentAnalyzer"):
        build(app)
