"""A `webhook` integration's URL is checked when the integration is created: anything but an https URL
to a public host is a 422 with the guard's code, and nothing is stored or called."""

from __future__ import annotations

import httpx
import pytest
from integration_fakes import USER, world

from tidings.core.errors import ValidationFailed
from tidings.integrations.connectors.endpoint import EndpointConnector

PUBLIC = "93.184.216.34"


def endpoint(calls: list[httpx.Request]) -> EndpointConnector:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    resolve = {"hooks.example": [PUBLIC], "intranet.example": ["10.0.0.8"]}
    return EndpointConnector(http, allow_private=False, resolve=lambda host: resolve[host])


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://hooks.example/in", "invalid_url"),
        ("file:///etc/passwd", "invalid_url"),
        ("http://hooks.example/in", "url_refused"),
        ("https://intranet.example/in", "url_refused"),
        ("https://2852039166/latest", "url_refused"),
    ],
)
def test_a_webhook_integration_refuses_a_url_it_may_not_call(url: str, code: str) -> None:
    calls: list[httpx.Request] = []
    w = world(endpoint(calls))
    with pytest.raises(ValidationFailed) as caught:
        w.lifecycle.create(
            USER,
            name="bridge",
            kind="webhook",
            provider="https",
            credentials={"url": url},
            sync_frequency=None,
            alert_email=None,
        )
    assert (caught.value.status, caught.value.code) == (422, code)
    assert w.lifecycle.for_user(USER) == []
    assert calls == []


def test_a_webhook_integration_with_a_public_https_url_is_created() -> None:
    w = world(endpoint([]))
    created = w.lifecycle.create(
        USER,
        name="bridge",
        kind="webhook",
        provider="https",
        credentials={"url": "https://hooks.example/in"},
        sync_frequency=None,
        alert_email=None,
    )
    assert [i.integration_id for i in w.lifecycle.for_user(USER)] == [created.integration_id]
