"""The fake LinkedIn API through linkedin-api-client (0.3), LinkedIn's official Python client, whose
documented `RestliClient.session` is sent to the fake (see sdk_support): a post created with the Rest.li
CREATE method (the URN from x-restli-id), found again with the `author` finder (Rest.li-encoded URN),
the organization read by its key, the member's OpenID Connect userinfo (unversioned), and LinkedIn's
error answers for a retired version and a wrong token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from linkedin_api.clients.restli.client import RestliClient
from sdk_support import send_to

from infra.local.fakes.linkedin import months_back
from infra.local.fakes.platforms import FakePlatformServer
from tidings.core.platforms import Platform

ORG, ORG_TOKEN = "urn:li:organization:5515715", "li-org-token"
MEMBER, MEMBER_TOKEN = "urn:li:person:abc123", "li-member-token"
VERSION = months_back(1)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as server:
        server.register_account(Platform.LINKEDIN, ORG, ORG_TOKEN)
        server.register_account(Platform.LINKEDIN, MEMBER, MEMBER_TOKEN)
        yield server


@pytest.fixture
def client(fake: FakePlatformServer) -> RestliClient:
    client = RestliClient()
    send_to(client.session, "https://api.linkedin.com/", f"{fake.url}/linkedin/")
    return client


def post(commentary: str) -> dict[str, object]:
    return {
        "author": ORG,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }


def test_a_created_post_is_found_by_the_author_finder(client: RestliClient, fake: FakePlatformServer) -> None:
    created = client.create(
        resource_path="/posts",
        entity=post("New listing {hashtag|\\#|OpenHouse}"),
        access_token=ORG_TOKEN,
        version_string=VERSION,
    )

    assert created.status_code == 201
    assert created.entity_id.startswith("urn:li:share:")
    found = client.finder(
        resource_path="/posts",
        finder_name="author",
        query_params={"author": ORG, "count": 10},
        access_token=ORG_TOKEN,
        version_string=VERSION,
    )
    assert found.status_code == 200
    assert created.entity_id in [e["id"] for e in found.elements]
    assert found.paging.total >= 1
    received = [r for r in fake.received() if r["postId"] == created.entity_id]
    assert [r["text"] for r in received] == ["New listing #OpenHouse"]


def test_the_organization_is_read_by_its_key(client: RestliClient) -> None:
    answer = client.get(
        resource_path="/organizations/{id}",
        path_keys={"id": 5515715},
        access_token=ORG_TOKEN,
        version_string=VERSION,
    )

    assert answer.status_code == 200
    assert answer.entity["localizedName"] == "Organization 5515715"


def test_userinfo_is_unversioned_and_answers_the_member(client: RestliClient) -> None:
    answer = client.get(resource_path="/userinfo", access_token=MEMBER_TOKEN)

    assert answer.status_code == 200
    assert answer.entity["sub"] == "abc123"


def test_a_retired_version_is_426_and_a_wrong_token_401(client: RestliClient) -> None:
    retired = client.create(
        resource_path="/posts", entity=post("Old"), access_token=ORG_TOKEN, version_string="202001"
    )
    refused = client.create(
        resource_path="/posts", entity=post("Nope"), access_token="wrong", version_string=VERSION
    )

    assert (retired.status_code, retired.response.json()["code"]) == (426, "NONEXISTENT_VERSION")
    assert (refused.status_code, refused.response.json()["code"]) == (401, "INVALID_ACCESS_TOKEN")
