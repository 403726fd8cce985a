"""The fake platform server's metric endpoints on the wire: the `/_metrics` control (set, age, delete,
find a post by Tidings' post id), each platform's refusal of more ids than it takes, of a retired
metric and of a post that is gone, X's field authorization error, and reproducible faults on reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.state import FaultSpec
from tidings.core.platforms import Platform

PAGE, PAGE_TOKEN = "104710000077", "page-token-77"
IG_USER, IG_TOKEN = "17841400000077", "ig-token-77"
X_USER, X_TOKEN = "2244994977", "x-token-77"
OTHER_X_USER, OTHER_X_TOKEN = "2244994978", "x-token-78"
MEMBER, MEMBER_TOKEN = "urn:li:person:77", "li-token-77"
CHANNEL, YT_TOKEN = "UCmetrics77", "yt-token-77"
CREATOR, TT_TOKEN = "open-id-77", "tt-token-77"
LI_HEADERS = {"LinkedIn-Version": "202610", "X-Restli-Protocol-Version": "2.0.0"}


@pytest.fixture
def fake() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(
        hold_seconds=1.0,
        linkedin_min_version="202001",
        instagram_video_seconds=0.0,
        tiktok_processing_seconds=0.0,
    ) as server:
        for platform, account, token in [
            (Platform.FACEBOOK, PAGE, PAGE_TOKEN),
            (Platform.INSTAGRAM, IG_USER, IG_TOKEN),
            (Platform.TWITTER, X_USER, X_TOKEN),
            (Platform.TWITTER, OTHER_X_USER, OTHER_X_TOKEN),
            (Platform.LINKEDIN, MEMBER, MEMBER_TOKEN),
            (Platform.YOUTUBE, CHANNEL, YT_TOKEN),
            (Platform.TIKTOK, CREATOR, TT_TOKEN),
        ]:
            server.register_account(platform, account, token)
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page_post(http: httpx.Client, fake: FakePlatformServer, message: str, link: str | None = None) -> str:
    data = {"message": message, **({"link": link} if link else {})}
    answer = http.post(f"{fake.url}/facebook/v23.0/{PAGE}/feed", data=data, headers=auth(PAGE_TOKEN))
    return str(answer.json()["id"])


def tweet(http: httpx.Client, fake: FakePlatformServer, text: str, token: str = X_TOKEN) -> str:
    answer = http.post(f"{fake.url}/x/2/tweets", json={"text": text}, headers=auth(token))
    return str(answer.json()["data"]["id"])


def control(http: httpx.Client, fake: FakePlatformServer, **body: Any) -> httpx.Response:
    return http.post(f"{fake.url}/_metrics", json=body)


# -- the control ---------------------------------------------------------------------------------------


def test_set_counts_are_what_the_platform_answers(http: httpx.Client, fake: FakePlatformServer) -> None:
    post_id = page_post(http, fake, "Open house")

    answer = control(
        http, fake, platform="facebook", postId=post_id, counts={"likes": 12, "shares": 3}, grow=False
    )
    node = http.get(
        f"{fake.url}/facebook/v23.0/{post_id}",
        params={"fields": "reactions.limit(0).summary(total_count),shares"},
        headers=auth(PAGE_TOKEN),
    ).json()

    assert answer.status_code == 200
    assert answer.json()["counts"]["likes"] == 12
    assert node["reactions"] == {"data": [], "summary": {"total_count": 12}}
    assert node["shares"] == {"count": 3}
    assert (
        http.get(f"{fake.url}/_metrics", params={"platform": "facebook", "postId": post_id}).json()
        == answer.json()
    )


def test_a_post_is_found_by_tidings_post_id_in_its_link(http: httpx.Client, fake: FakePlatformServer) -> None:
    post_id = page_post(
        http, fake, "Listing", link="https://example.com/l/1?utm_source=facebook&utm_content=post-42"
    )

    answer = control(http, fake, platform="facebook", postId="post-42", counts={"clicks": 9}, grow=False)

    assert answer.json()["postId"] == post_id
    assert answer.json()["counts"]["clicks"] == 9


def test_aging_a_post_moves_its_counts_along_the_curve(http: httpx.Client, fake: FakePlatformServer) -> None:
    post_id = tweet(http, fake, "Aging")
    fresh = fake.post_metrics(Platform.TWITTER, post_id)["counts"]

    published = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    aged = control(http, fake, platform="x", postId=post_id, publishedAt=published).json()

    assert set(fresh.values()) == {0}
    assert aged["counts"]["views"] > 0
    assert aged["publishedAt"].startswith(published[:16])


def test_a_deleted_post_is_gone_from_reads_and_read_backs_until_restored(
    http: httpx.Client, fake: FakePlatformServer
) -> None:
    post_id = tweet(http, fake, "Soon gone")

    assert control(http, fake, platform="twitter", postId=post_id, deleted=True).json()["deleted"] is True
    lookup = http.get(f"{fake.url}/x/2/tweets", params={"ids": post_id}, headers=auth(X_TOKEN)).json()
    timeline = http.get(f"{fake.url}/x/2/users/{X_USER}/tweets", headers=auth(X_TOKEN)).json()
    control(http, fake, platform="twitter", postId=post_id, deleted=False)
    restored = http.get(f"{fake.url}/x/2/tweets", params={"ids": post_id}, headers=auth(X_TOKEN)).json()

    assert "data" not in lookup
    assert lookup["errors"][0]["detail"] == f"Could not find tweet with id: [{post_id}]."
    assert post_id not in [t["id"] for t in timeline.get("data", [])]
    assert [t["id"] for t in restored["data"]] == [post_id]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"platform": "facebook"}, 400),
        ({"platform": "myspace", "postId": "1"}, 400),
        ({"platform": "facebook", "postId": "nope"}, 404),
        ({"platform": "facebook", "postId": "{post}", "counts": {"hearts": 1}}, 400),
        ({"platform": "facebook", "postId": "{post}", "counts": {"likes": -1}}, 400),
        ({"platform": "facebook", "postId": "{post}", "deleted": "yes"}, 400),
        ({"platform": "facebook", "postId": "{post}", "publishedAt": "yesterday"}, 400),
    ],
)
def test_the_control_refuses_what_it_cannot_apply(
    body: dict[str, Any], status: int, http: httpx.Client, fake: FakePlatformServer
) -> None:
    post_id = page_post(http, fake, "Target")
    body = json.loads(json.dumps(body).replace("{post}", post_id))

    answer = http.post(f"{fake.url}/_metrics", json=body)

    assert answer.status_code == status
    assert answer.json()["error"]


# -- each platform's refusals ------------------------------------------------------------------------


def test_more_ids_than_each_platform_takes_get_its_documented_error(
    http: httpx.Client, fake: FakePlatformServer
) -> None:
    x = http.get(
        f"{fake.url}/x/2/tweets",
        params={"ids": ",".join(str(n + 1) for n in range(101))},
        headers=auth(X_TOKEN),
    )
    youtube = http.get(
        f"{fake.url}/youtube/youtube/v3/videos",
        params={"part": "statistics", "id": ",".join(f"v{n}" for n in range(51))},
        headers=auth(YT_TOKEN),
    )
    tiktok = http.post(
        f"{fake.url}/tiktok/v2/video/query/?fields=id,view_count",
        json={"filters": {"video_ids": [str(n) for n in range(21)]}},
        headers=auth(TT_TOKEN),
    )

    assert x.status_code == 400
    assert "is not between 1 and 100" in x.json()["errors"][0]["message"]
    assert youtube.status_code == 400
    assert youtube.json()["error"]["errors"][0]["reason"] == "invalidParameter"
    assert tiktok.status_code == 400
    assert tiktok.json()["error"]["code"] == "invalid_params"


def test_retired_impressions_metrics_are_refused_as_meta_does(
    http: httpx.Client, fake: FakePlatformServer
) -> None:
    post_id = page_post(http, fake, "Insights")
    page = http.get(
        f"{fake.url}/facebook/v23.0/{post_id}/insights",
        params={"metric": "post_impressions"},
        headers=auth(PAGE_TOKEN),
    )
    current = http.get(
        f"{fake.url}/facebook/v23.0/{post_id}/insights",
        params={"metric": '["post_media_view","post_total_media_view_unique"]'},
        headers=auth(PAGE_TOKEN),
    )

    assert page.status_code == 400
    assert page.json()["error"]["code"] == 100
    assert [m["name"] for m in current.json()["data"]] == ["post_media_view", "post_total_media_view_unique"]
    assert current.json()["data"][0]["id"] == f"{post_id}/insights/post_media_view/lifetime"


def test_a_missing_graph_node_is_code_100_subcode_33(http: httpx.Client, fake: FakePlatformServer) -> None:
    answer = http.get(
        f"{fake.url}/facebook/v23.0/{PAGE}_999/insights",
        params={"metric": "post_media_view"},
        headers=auth(PAGE_TOKEN),
    )
    error = answer.json()["error"]
    assert (answer.status_code, error["code"], error["error_subcode"]) == (400, 100, 33)
    assert "does not exist" in error["message"]


def test_x_refuses_private_metrics_of_another_user_s_post_and_leaves_it_out(
    http: httpx.Client, fake: FakePlatformServer
) -> None:
    theirs = tweet(http, fake, "Not yours", OTHER_X_TOKEN)
    mine = tweet(http, fake, "Yours")

    answer = http.get(
        f"{fake.url}/x/2/tweets",
        params={"ids": f"{mine},{theirs}", "tweet.fields": "public_metrics,non_public_metrics"},
        headers=auth(X_TOKEN),
    ).json()

    assert [t["id"] for t in answer["data"]] == [mine]
    assert set(answer["data"][0]["non_public_metrics"]) == {
        "impression_count",
        "url_link_clicks",
        "user_profile_clicks",
    }
    (refused,) = answer["errors"]
    assert refused["title"] == "Field Authorization Error"
    assert refused["resource_id"] == theirs
    assert refused["type"].endswith("/not-authorized-for-field")


def test_linkedin_social_actions_are_the_author_s_and_lifetime_statistics_only(
    http: httpx.Client, fake: FakePlatformServer
) -> None:
    body = {
        "author": MEMBER,
        "commentary": "Hello",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
    }
    created = http.post(
        f"{fake.url}/linkedin/rest/posts", json=body, headers={**LI_HEADERS, **auth(MEMBER_TOKEN)}
    )
    urn = created.headers["x-restli-id"]
    fake.register_account(Platform.LINKEDIN, "urn:li:person:other", "li-other")

    mine = http.get(
        f"{fake.url}/linkedin/rest/socialActions/{urn}", headers={**LI_HEADERS, **auth(MEMBER_TOKEN)}
    )
    other = http.get(
        f"{fake.url}/linkedin/rest/socialActions/{urn}", headers={**LI_HEADERS, **auth("li-other")}
    )
    unknown = http.get(
        f"{fake.url}/linkedin/rest/socialActions/urn:li:share:1", headers={**LI_HEADERS, **auth(MEMBER_TOKEN)}
    )

    assert set(mine.json()) == {"likesSummary", "commentsSummary", "target"}
    assert other.status_code == 403
    assert unknown.status_code == 404


def test_faults_on_metric_reads_are_reproducible_with_a_seed(
    http: httpx.Client, fake: FakePlatformServer
) -> None:
    post_id = tweet(http, fake, "Seeded")

    def statuses() -> list[int | None]:
        out: list[int | None] = []
        for _ in range(12):
            answer = http.get(
                f"{fake.url}/x/2/tweets",
                params={"ids": post_id, "tweet.fields": "public_metrics"},
                headers=auth(X_TOKEN),
            )
            out.append(answer.status_code)
        return out

    fake.set_faults(FaultSpec.parse("twitter:error500:0.5"), seed=7)
    first = statuses()
    fake.set_faults(FaultSpec.parse("twitter:error500:0.5"), seed=7)
    fake.store.attempts.clear()
    second = statuses()
    fake.set_faults(FaultSpec())

    assert first == second
    assert set(first) == {200, 500}
