"""A post for a CRM client: the scheduler renders its texts through the personalizer before storing,
validates the rendered text, and keeps which client and fields it used; without a personalizer or a
client nothing is rendered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.errors import NotFound, ValidationFailed
from tidings.models.posts import PostPersonalization
from tidings.scheduling.personalization import ClientContent, PersonalizedTexts
from tidings.scheduling.service import NewPost, SchedulingService
from tidings.store.memory.analytics import InMemoryAnalyticsRepository
from tidings.store.memory.posts import InMemoryPostRepository

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Starter:
    def start(self, user_id: str, post_id: str, version: int, due_at: datetime) -> bool:
        return True


class Personalizer:
    """Replaces {{firstName}} with the client's name; an unknown client is a 404."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ClientContent, list[str], str | None]] = []

    def personalize_texts(
        self, user_id: str, client: ClientContent, texts: Sequence[str], content_type: str | None
    ) -> PersonalizedTexts:
        self.calls.append((user_id, client, list(texts), content_type))
        if client.client_id != "c-1":
            raise NotFound("no such client", {"clientId": client.client_id}, code="client_not_found")
        name = str(client.variables.get("firstName", "Dana"))
        return PersonalizedTexts(
            texts=[t.replace("{{firstName}}", name) for t in texts],
            personalization=PostPersonalization(
                client_id=client.client_id,
                integration_id=client.integration_id or "crm-default",
                provider="hubspot",
                fields=["firstName"],
                personalized_at=START,
            ),
        )


def service(personalizer: Personalizer | None) -> tuple[SchedulingService, InMemoryPostRepository]:
    posts = InMemoryPostRepository()
    svc = SchedulingService(
        settings=Settings(table_name="t"),
        posts=posts,
        analytics=InMemoryAnalyticsRepository(),
        starter=Starter(),
        clock=FakeClock(START),
        sleep=lambda _: None,
        personalizer=personalizer,
    )
    return svc, posts


def for_client(
    client_id: str = "c-1", content: str = "Hi {{firstName}}, the open house is Sunday"
) -> NewPost:
    return NewPost(
        content=content,
        platforms=["facebook"],
        scheduled_time=START + timedelta(hours=2),
        thread=("See you there, {{firstName}}",),
        content_type="text",
        client=ClientContent(client_id=client_id, integration_id="crm-1"),
    )


def test_the_stored_post_holds_the_rendered_texts_and_says_which_client_and_fields() -> None:
    personalizer = Personalizer()
    svc, posts = service(personalizer)
    post = svc.schedule("agent-1", for_client())
    assert post.content == "Hi Dana, the open house is Sunday"
    assert post.thread == ["See you there, Dana"]
    stored = posts.get("agent-1", post.post_id)
    assert stored is not None
    assert stored.content == post.content
    assert stored.personalization is not None
    assert stored.personalization.client_id == "c-1"
    assert stored.personalization.integration_id == "crm-1"
    assert stored.personalization.fields == ["firstName"]
    [(user, client, texts, content_type)] = personalizer.calls
    assert (user, client.client_id, content_type) == ("agent-1", "c-1", "text")
    assert texts == ["Hi {{firstName}}, the open house is Sunday", "See you there, {{firstName}}"]


def test_a_post_without_a_client_is_stored_as_written() -> None:
    personalizer = Personalizer()
    svc, _ = service(personalizer)
    post = svc.schedule(
        "agent-1",
        NewPost(
            content="Hi {{firstName}}", platforms=["facebook"], scheduled_time=START + timedelta(hours=1)
        ),
    )
    assert post.content == "Hi {{firstName}}"
    assert post.personalization is None
    assert personalizer.calls == []


def test_an_unknown_client_stores_nothing() -> None:
    svc, _posts = service(Personalizer())
    with pytest.raises(NotFound) as raised:
        svc.schedule("agent-1", for_client(client_id="c-404"))
    assert raised.value.code == "client_not_found"
    assert svc.list_posts("agent-1", None, None, 50, None).posts == []


def test_the_rendered_text_is_what_the_platform_rules_check() -> None:
    svc, _ = service(Personalizer())
    long_name = "x" * 70_000
    request = for_client()
    request = NewPost(
        content=request.content,
        platforms=["twitter"],
        scheduled_time=request.scheduled_time,
        client=ClientContent(client_id="c-1", variables={"firstName": long_name}),
    )
    with pytest.raises(ValidationFailed):
        svc.schedule("agent-1", request)


def test_without_a_personalizer_a_client_post_is_refused_clearly() -> None:
    svc, _ = service(None)
    with pytest.raises(ValidationFailed) as raised:
        svc.schedule("agent-1", for_client())
    assert raised.value.code == "personalization_unavailable"


def test_in_a_batch_an_unknown_client_fails_its_item_only() -> None:
    svc, _ = service(Personalizer())
    results = svc.schedule_batch("agent-1", [for_client(), for_client(client_id="c-404")])
    assert not isinstance(results[0], Exception)
    assert results[0].content == "Hi Dana, the open house is Sunday"
    assert isinstance(results[1], NotFound)
    assert results[1].code == "client_not_found"
