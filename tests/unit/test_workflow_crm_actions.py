"""Workflow steps for a CRM client: the `personalize` action, `generate_content` with `clientId` and
`schedule_post` with `clientId`, over the CRM fakes (a scripted CRM connector, in-memory stores and a
FakeClock)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from crm_fakes import CrmWorld, FakeCrm, client, crm_world
from integration_fakes import USER

from tidings.core.config import Settings
from tidings.crm.personalization import Personalization
from tidings.integrations.connectors.base import ConnectorError
from tidings.scheduling.service import SchedulingService
from tidings.store.memory.analytics import InMemoryAnalyticsRepository
from tidings.store.memory.posts import InMemoryPostRepository
from tidings.workflows.action import ActionContext, ActionFailed, ActionServices
from tidings.workflows.actions import registry


def _unused() -> Any:
    raise AssertionError("this collaborator should not be used")


class Starter:
    def start(self, user_id: str, post_id: str, version: int, due_at: Any) -> bool:
        return True


def setup(*failures: ConnectorError) -> tuple[ActionContext, CrmWorld, str]:
    crm = FakeCrm(clients={"501": client()}, failures=list(failures))
    world = crm_world(crm, max_retries=0)
    integration = world.crm()
    personalization = Personalization(world.clients, world.base.clock)
    scheduling = SchedulingService(
        settings=Settings(table_name="t"),
        posts=InMemoryPostRepository(),
        analytics=InMemoryAnalyticsRepository(),
        starter=Starter(),
        clock=world.base.clock,
        sleep=lambda _: None,
        personalizer=personalization,
    )
    services = ActionServices(
        settings=Settings,
        scheduling=lambda: scheduling,
        analytics=_unused,
        http=_unused,
        ses=_unused,
        bedrock=_unused,
        personalization=lambda: personalization,
    )
    return (
        ActionContext(USER, "wf-1", "step-1", 1, world.base.clock, services),
        world,
        integration.integration_id,
    )


def test_personalize_renders_a_template_for_the_client_and_names_it() -> None:
    ctx, _, integration = setup()
    out = registry()["personalize"].run(
        ctx, {"template": "hey {{firstName}}, ${{budget}} buys a lot here", "clientId": "501"}
    )
    assert out["content"] == "Hello Maya, $450,000 buys a lot here"
    assert out["text"] == out["content"]
    assert out["client"]["clientId"] == "501"
    assert out["client"]["integrationId"] == integration
    assert out["client"]["fields"] == ["budget", "firstName"]
    assert out["client"]["style"] == "formal"


def test_personalize_fails_for_good_on_a_missing_variable_and_retryably_when_the_crm_is_down() -> None:
    ctx, _, _ = setup()
    with pytest.raises(ActionFailed) as missing:
        registry()["personalize"].run(ctx, {"template": "Hi {{nickname}}", "clientId": "501"})
    assert (missing.value.code, missing.value.retryable) == ("missing_variables", False)

    down, _, _ = setup(ConnectorError("unreachable", "no answer"))
    with pytest.raises(ActionFailed) as unavailable:
        registry()["personalize"].run(down, {"template": "Hi {{firstName}}", "clientId": "501"})
    assert (unavailable.value.code, unavailable.value.retryable) == ("crm_unavailable", True)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "template is required (text)"),
        ({"template": "Hi", "colour": "red"}, "unknown parameter 'colour'"),
        ({"template": "Hi", "contentType": "fax"}, "contentType must be one of email, post, sms"),
        ({"template": "Hi", "fallbacks": {"a": "b"}}, "integrationId and fallbacks need clientId"),
        ({"template": "Hi", "clientId": 42}, "clientId must be a CRM client id (text)"),
        (
            {"template": "Hi", "clientId": "501", "variables": ["x"]},
            "variables must be an object of names to values",
        ),
    ],
)
def test_personalize_parameters_are_checked_when_a_definition_is_written(
    params: dict[str, Any], problem: str
) -> None:
    assert problem in registry()["personalize"].check_params(params)


def test_references_pass_the_definition_check() -> None:
    params = {"template": "${steps.draft.output.text}", "clientId": "${input.clientId}"}
    assert registry()["personalize"].check_params(params) == []


def test_generate_content_for_a_client_fills_the_topic_and_names_the_client() -> None:
    ctx, _, integration = setup()
    out = registry()["generate_content"].run(
        ctx,
        {
            "template": "social_post",
            "topic": "New listings for {{firstName}} under ${{budget}}",
            "clientId": "501",
        },
    )
    assert "New listings for Maya under $450,000" in out["text"]
    assert "{{" not in out["text"]
    assert out["client"]["clientId"] == "501"
    assert out["client"]["integrationId"] == integration
    assert out["client"]["fields"] == ["budget", "firstName"]
    assert out["client"]["style"] == "formal"


def test_generate_content_checks_the_client_parameters_beside_its_own() -> None:
    action = registry()["generate_content"]
    assert action.check_params({"template": "social_post", "topic": "x", "clientId": "501"}) == []
    assert "clientId must be a CRM client id (text)" in action.check_params(
        {"template": "social_post", "topic": "x", "clientId": ""}
    )


def test_schedule_post_for_a_client_stores_the_rendered_text() -> None:
    ctx, _, integration = setup()
    out = registry()["schedule_post"].run(
        ctx,
        {
            "content": "{{firstName}}, an open house you will like",
            "platforms": ["facebook"],
            "scheduledTime": (ctx.clock.now() + timedelta(days=2)).isoformat(),
            "clientId": "501",
        },
    )
    assert out["content"] == "Maya, an open house you will like"
    assert out["client"]["clientId"] == "501"
    assert out["client"]["integrationId"] == integration
    assert out["client"]["fields"] == ["firstName"]
