"""A staged stack (`-c stage=NAME`) gets its own name and schedule group, so copies don't collide."""

from __future__ import annotations

from aws_cdk import App
from synthesis import cdk_context

from infra.stack import build


def test_stage_context_suffixes_the_stack_and_its_schedule_group() -> None:
    # Bundling is skipped for no stack here: only names are looked at.
    app = App(context={**cdk_context(), "stage": "alice", "aws:cdk:bundling-stacks": []})

    stack = build(app)

    assert stack.stack_name == "Tidings-alice"
    assert stack.scheduling.group.name == "tidings-alice"
    assert stack.publishing.names["publish_post"] == "Tidings-alice-publish_post"


def test_without_a_stage_the_stack_is_plain_tidings() -> None:
    app = App(context={**cdk_context(), "aws:cdk:bundling-stacks": []})

    stack = build(app)

    assert stack.stack_name == "Tidings"
    assert stack.scheduling.group.name == "tidings"
