"""An unsubscribe link followed through the local HTTP API (the topology's routes, the gateway's JWT
check) by a real HTTP client without a bearer token: the http_api function reads the token with the
key the local stack keeps in Secrets Manager (moto) and suppresses the address in DynamoDB Local; the
one-click POST likewise, form-encoded and multipart; the suppression routes still need a token."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.local.api_gateway import LocalHttpApi
from infra.local.auth import LocalAuth
from infra.local.lambda_host import LambdaHost
from infra.topology import ROUTES


@pytest.fixture
def api(
    lambda_host: LambdaHost, local_aws_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[LocalHttpApi, LocalAuth]]:
    auth = LocalAuth(tmp_path)

    def invoke(function: str, event: dict[str, Any]) -> object:
        return lambda_host.invoke(function, event).payload

    with LocalHttpApi(ROUTES, invoke, auth) as running:
        yield running, auth


def test_a_link_followed_without_a_token_suppresses_the_address(
    api: tuple[LocalHttpApi, LocalAuth], local_aws_env: dict[str, str]
) -> None:
    from tidings.campaigns.unsubscribe import links_from_settings
    from tidings.core.config import Settings
    from tidings.store.suppressions import DynamoSuppressionRepository

    gateway, auth = api
    user = f"gw-{uuid.uuid4().hex[:8]}"
    settings = Settings.from_env({**local_aws_env, "TIDINGS_PUBLIC_API_URL": str(gateway.url)})
    links = links_from_settings(settings.model_copy(update={"allow_private_links": True}))
    repo = DynamoSuppressionRepository(local_aws_env["TIDINGS_TABLE_NAME"])

    with httpx.Client(timeout=30, follow_redirects=False) as http:
        maya = links.url(user, "Maya@Harbour.example", "cmp_gw")
        page = http.get(maya)  # the link in the body: a page asking to confirm, nothing changed yet
        held_back = repo.is_suppressed(user, "maya@harbour.example")
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', page.text))
        confirmed = http.post(maya, data=form, headers={"accept": "text/html"})  # the page's button
        one_click = http.post(
            links.url(user, "ann@harbour.example", "cmp_gw"), data={"List-Unsubscribe": "One-Click"}
        )
        multipart = http.post(
            links.url(user, "sam@harbour.example", "cmp_gw"),
            files={"List-Unsubscribe": (None, "One-Click")},
        )
        again = http.get(maya)
        forged = http.get(f"{gateway.url}/unsubscribe/{'A' * 150}", headers={"accept": "application/json"})
        listing_without_token = http.get(f"{gateway.url}/suppressions")
        token = auth.issue_token(user)
        listing = http.get(f"{gateway.url}/suppressions", headers={"Authorization": f"Bearer {token}"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Unsubscribe from these emails?" in page.text
    assert not held_back
    assert confirmed.status_code == 200
    assert "You are unsubscribed" in confirmed.text
    assert "You are unsubscribed" in again.text
    assert (one_click.status_code, multipart.status_code, again.status_code) == (200, 200, 200)
    assert "location" not in one_click.headers
    assert forged.status_code == 404
    assert forged.json()["code"] == "unsubscribe_link_invalid"
    assert listing_without_token.status_code == 401
    assert listing.status_code == 200
    assert [(s["email"], s["reason"], s["campaignId"]) for s in listing.json()["suppressions"]] == [
        ("ann@harbour.example", "unsubscribed", "cmp_gw"),
        ("maya@harbour.example", "unsubscribed", "cmp_gw"),
        ("sam@harbour.example", "unsubscribed", "cmp_gw"),
    ]
    assert repo.is_suppressed(user, "maya@harbour.example")
    assert repo.count(user) == 3
