"""Importing past posts from a CSV: every kind of bad row reported by number, all-or-nothing unless
partial, stable post ids (a re-import replaces, never duplicates), the limits; and the HTTP routes of
the import and the analytics settings, through the app as API Gateway calls it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.analytics.history_import import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    REJECTIONS_SHOWN,
    WRITE_CHUNK,
    HistoryImport,
    parse_history,
)
from tidings.analytics.settings import AnalyticsSettingsService
from tidings.api.analytics_history import AnalyticsHistoryServices
from tidings.api.app import MAX_BODY_BYTES, build_app, handle
from tidings.core.clock import FakeClock
from tidings.core.errors import PayloadTooLarge, ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.post_analytics import AnalyticsSource, CollectionStatus, PostAnalytics
from tidings.store.analytics import is_measured, sample_from_item
from tidings.store.memory.analytics_settings import InMemoryAnalyticsSettingsRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.post_analytics import analytics_to_item

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
USER = "agent-7"
HEADER = "platform,publishedAt,contentType,views,reach,likes,comments,shares,saves,clicks"
GOOD = [
    "facebook,2026-08-03T09:15:00-07:00,image,,1200,40,5,3,,7",
    "instagram,2026-08-04T18:00:00Z,video,5000,3100,210,12,9,30,",
    "x,2026-08-05T12:30:00+02:00,text,800,,11,2,4,,",
]


def csv_of(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def problems(text: str) -> dict[int, list[str]]:
    parsed = parse_history(USER, text, NOW)
    return {r.row: [p.code for p in r.problems] for r in parsed.rejections}


# -- reading rows -------------------------------------------------------------------------------------


def test_good_rows_become_imported_records_with_reported_metrics_only() -> None:
    parsed = parse_history(USER, csv_of(*GOOD), NOW)

    assert (parsed.received, parsed.rejections) == (3, [])
    facebook, instagram, twitter = parsed.records
    assert facebook.platform == Platform.FACEBOOK
    assert facebook.published_at == datetime(2026, 8, 3, 16, 15, tzinfo=UTC)
    assert facebook.content_type == "image"
    assert facebook.latest is not None
    assert facebook.latest.reported() == {"reach": 1200, "likes": 40, "comments": 5, "shares": 3, "clicks": 7}
    assert facebook.latest.views is None
    assert facebook.latest.saves is None
    assert (facebook.source, facebook.status, facebook.next_collection_at) == (
        AnalyticsSource.IMPORTED,
        CollectionStatus.COMPLETE,
        None,
    )
    assert instagram.latest is not None
    assert instagram.latest.engagement_rate == pytest.approx(261 / 3100)
    assert twitter.platform == Platform.TWITTER  # "x" is X's platform, twitter
    assert all(r.post_id.startswith("imp_") for r in parsed.records)


def test_every_kind_of_bad_row_is_reported_by_its_number_with_each_problem() -> None:
    text = csv_of(
        GOOD[0],
        "myspace,2026-08-03T09:15:00Z,image,1,,,,,,",  # 2
        "facebook,yesterday,image,1,,,,,,",  # 3
        "facebook,2026-08-03T09:15:00,image,1,,,,,,",  # 4
        "facebook,2026-09-30T09:15:00Z,image,1,,,,,,",  # 5
        "facebook,2026-08-03T09:15:00Z,,1,,,,,,",  # 6
        "facebook,2026-08-03T09:15:00Z," + "x" * 41 + ",1,,,,,,",  # 7
        "facebook,2026-08-03T09:15:00Z,image,-3,,,,,,",  # 8
        "facebook,2026-08-03T09:15:00Z,image,1.5,,,,,,",  # 9
        "facebook,2026-08-03T09:15:00Z,image,1 200,,,,,,",  # 10
        "facebook,2026-08-03T09:15:00Z,image,,,,,,,",  # 11
        "facebook,2026-08-03T09:15:00Z,image,1",  # 12
        GOOD[0],  # 13
        "tiktok,someday,,lots,,,,,,",  # 14
        "facebook,2026-08-03T09:15:00Z,image," + "9" * 14 + ",,,,,,",  # 15
    )

    assert problems(text) == {
        2: ["unknown_platform"],
        3: ["invalid_published_at"],
        4: ["time_without_offset"],
        5: ["published_in_future"],
        6: ["invalid_content_type"],
        7: ["invalid_content_type"],
        8: ["invalid_metric"],
        9: ["invalid_metric"],
        10: ["invalid_metric"],
        11: ["no_metrics"],
        12: ["wrong_field_count"],
        13: ["duplicate_row"],
        14: ["invalid_published_at", "invalid_content_type", "invalid_metric"],
        15: ["invalid_metric"],
    }


def test_a_rejection_names_its_row_the_line_it_starts_on_and_the_column() -> None:
    text = (
        "platform,publishedAt,contentType,likes\n\n"
        'facebook,2026-08-03T09:15:00Z,"multi\nline",3\n\n'
        "tiktok,bad,video,1\n"
    )
    parsed = parse_history(USER, text, NOW)

    assert parsed.received == 2  # blank lines are no rows
    (rejection,) = parsed.rejections
    assert (rejection.row, rejection.line) == (2, 6)
    assert rejection.as_json() == {
        "row": 2,
        "line": 6,
        "reason": "invalid_published_at",
        "problems": [
            {
                "column": "publishedAt",
                "code": "invalid_published_at",
                "message": "'bad' is not an ISO 8601 time",
            }
        ],
    }


@pytest.mark.parametrize(
    ("text", "details"),
    [
        ("", {}),
        (HEADER + "\n", {"line": 1}),
        ("platform,publishedAt,likes\nfacebook,2026-08-03T09:15:00Z,3\n", {"missing": ["contentType"]}),
        ("platform,publishedAt,contentType\nfacebook,2026-08-03T09:15:00Z,image\n", {"missing": []}),
        ("platform,publishedAt,contentType,like\n", {"unknown": ["like"]}),
        ("platform,publishedAt,contentType,likes,Likes\n", {"duplicate": ["likes"]}),
    ],
)
def test_a_file_without_a_usable_header_or_rows_is_refused_whole(text: str, details: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_history(USER, text, NOW)
    assert caught.value.code == "invalid_csv"
    assert details.items() <= caught.value.details.items()


def test_column_names_ignore_case_and_a_byte_order_mark() -> None:
    parsed = parse_history(
        USER, "\ufeffPLATFORM,PublishedAt,contenttype,Likes\r\nlinkedin,2026-08-03T09:15:00Z,Text,3\r\n", NOW
    )
    assert [r.content_type for r in parsed.records] == ["text"]


def test_a_post_id_depends_on_the_post_not_its_numbers() -> None:
    first = parse_history(USER, csv_of(*GOOD), NOW).records
    grown = parse_history(USER, csv_of(*(row.replace(",40,", ",95,") for row in GOOD)), NOW).records
    other_user = parse_history("agent-8", csv_of(*GOOD), NOW).records

    assert [r.post_id for r in first] == [r.post_id for r in grown] == [r.post_id for r in other_user]
    same_moment = csv_of(GOOD[0], GOOD[0].replace(",40,", ",41,"))
    ids = [r.post_id for r in parse_history(USER, same_moment, NOW).records]
    assert len(set(ids)) == 2  # two posts of the same time and type are two posts


def test_beyond_50000_rows_or_10_mb_is_413_naming_the_limit() -> None:
    rows = [f"facebook,2026-08-03T09:15:00Z,image,{n}" for n in range(MAX_IMPORT_ROWS + 1)]
    with pytest.raises(PayloadTooLarge) as caught:
        parse_history(USER, "platform,publishedAt,contentType,likes\n" + "\n".join(rows), NOW)
    assert (caught.value.code, caught.value.details["limit"]) == ("too_many_rows", 50_000)
    assert "50000" in caught.value.message

    with pytest.raises(PayloadTooLarge) as caught:
        parse_history(USER, HEADER + "\n" + "x" * MAX_IMPORT_BYTES, NOW)
    assert caught.value.details["limit"] == MAX_IMPORT_BYTES


# -- the use-case ---------------------------------------------------------------------------------------


def importer() -> tuple[HistoryImport, InMemoryPostAnalyticsRepository]:
    posts = InMemoryPostAnalyticsRepository()
    return HistoryImport(posts, FakeClock(NOW)), posts


def test_without_partial_one_bad_row_stores_nothing() -> None:
    history, posts = importer()

    with pytest.raises(ValidationFailed) as caught:
        history.run(USER, csv_of(*GOOD, "facebook,soon,image,1,,,,,,"))

    assert caught.value.code == "invalid_rows"
    assert caught.value.details["received"] == 4
    assert caught.value.details["rejected"] == 1
    assert caught.value.details["rejections"][0]["row"] == 4
    assert list(posts.for_user(USER)) == []


def test_with_partial_the_good_rows_are_stored_and_the_bad_ones_reported() -> None:
    history, posts = importer()

    report = history.run(USER, csv_of(*GOOD, "facebook,soon,image,1,,,,,,"), partial=True)

    assert (report.received, report.imported, report.rejected) == (4, 3, 1)
    assert [r.row for r in report.rejections] == [4]
    assert len(list(posts.for_user(USER))) == 3


def test_importing_the_same_file_again_replaces_instead_of_duplicating() -> None:
    history, posts = importer()
    history.run(USER, csv_of(*GOOD))
    report = history.run(USER, csv_of(*(row.replace(",40,", ",95,") for row in GOOD)))

    stored = list(posts.for_user(USER, Platform.FACEBOOK))
    assert report.imported == 3
    assert len(list(posts.for_user(USER))) == 3
    assert stored[0].latest is not None
    assert stored[0].latest.likes == 95


def test_an_import_never_replaces_a_collected_record() -> None:
    history, posts = importer()
    record = parse_history(USER, csv_of(GOOD[0]), NOW).records[0]
    collected = record.model_copy(update={"source": AnalyticsSource.COLLECTED, "latest": None})
    posts.track(collected)

    assert history.run(USER, csv_of(GOOD[0])).imported == 0
    kept = posts.get(USER, Platform.FACEBOOK, record.post_id)
    assert kept is not None
    assert kept.source == AnalyticsSource.COLLECTED


def test_imported_rows_are_samples_for_the_best_time() -> None:
    history, posts = importer()
    history.run(USER, csv_of(*GOOD))

    (record,) = posts.for_user(USER, Platform.INSTAGRAM)
    item = analytics_to_item(record, shards=8)  # as the table keeps it, and the best time reads it
    assert is_measured(item)
    sample = sample_from_item(item, Platform.INSTAGRAM)
    assert (sample.engagement, sample.reach, sample.content_type) == (261, 3100, "video")
    assert sample.published_at == datetime(2026, 8, 4, 18, 0, tzinfo=UTC)


def test_many_rows_are_written_in_chunks_side_by_side() -> None:
    history, posts = importer()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [f"linkedin,{(start + timedelta(hours=n)).isoformat()},text,{n % 50}" for n in range(1_200)]

    report = history.run(USER, "platform,publishedAt,contentType,likes\n" + "\n".join(rows))

    assert (report.received, report.imported) == (1_200, 1_200)
    assert len(list(posts.for_user(USER))) == 1_200


class SlowFromThirdChunk(InMemoryPostAnalyticsRepository):
    """A table that answers the first two chunks at once and every later one slowly."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks = 0
        self._count = threading.Lock()

    def put_imported(self, records: Sequence[PostAnalytics]) -> int:
        with self._count:
            self.chunks += 1
            slow = self.chunks > 2
        if slow:
            time.sleep(1.0)
        return super().put_imported(records)


def test_rows_not_written_within_the_time_budget_are_reported_with_the_row_to_resume_from() -> None:
    posts = SlowFromThirdChunk()
    history = HistoryImport(posts, FakeClock(NOW), writers=2, budget_seconds=0.5)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [f"linkedin,{(start + timedelta(hours=n)).isoformat()},text,{n % 50}" for n in range(1_000)]
    text = "platform,publishedAt,contentType,likes\nlinkedin,bad,text,1\n" + "\n".join(rows)

    report = history.run(USER, text, partial=True)

    assert (report.received, report.rejected, report.complete) == (1_001, 1, False)
    assert report.pending == 1_000 - 2 * WRITE_CHUNK
    assert report.resume_at_row == 2 + 2 * WRITE_CHUNK  # row 1 was the bad one
    assert report.imported == 4 * WRITE_CHUNK  # two chunks were already being written: they finish
    assert len(list(posts.for_user(USER))) == report.imported
    assert posts.chunks == 4  # the others were never started


def test_only_the_first_thousand_rejections_are_listed_but_all_are_counted() -> None:
    history, _ = importer()
    rows = [f"facebook,2026-08-03T09:15:00Z,image,bad{n}" for n in range(REJECTIONS_SHOWN + 5)]

    report = history.run(USER, "platform,publishedAt,contentType,likes\n" + "\n".join(rows), partial=True)

    assert (report.rejected, len(report.rejections), report.rejections_truncated) == (1_005, 1_000, True)


# -- the routes, as API Gateway calls them -----------------------------------------------------------------


class World:
    def __init__(self) -> None:
        self.posts = InMemoryPostAnalyticsRepository()
        self.settings = InMemoryAnalyticsSettingsRepository()
        clock = FakeClock(NOW)
        services = AnalyticsHistoryServices(
            AnalyticsSettingsService(self.settings, clock), HistoryImport(self.posts, clock)
        )
        never: Any = lambda: (_ for _ in ()).throw(AssertionError("not this service"))  # noqa: E731
        self.app = build_app(never, analytics_history=lambda: services)

    def call(self, method: str, path: str, body: Any = None, *, raw: str | None = None) -> tuple[int, Any]:
        event = {
            "version": "2.0",
            "routeKey": f"{method} {path}",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {
                "authorizer": {"jwt": {"claims": {"sub": USER}, "scopes": None}},
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
                "routeKey": f"{method} {path}",
                "stage": "$default",
                "requestId": "r1",
            },
            "isBase64Encoded": False,
        }
        if raw is not None or body is not None:
            event["body"] = raw if raw is not None else json.dumps(body)
        result = handle(self.app, event, None)
        return result["statusCode"], json.loads(result["body"])


def test_settings_default_off_and_on_and_change_partially() -> None:
    world = World()

    assert world.call("GET", "/analytics/settings") == (
        200,
        {"utmTagging": False, "autoGenerateInsights": True, "updatedAt": None},
    )
    status, body = world.call("PUT", "/analytics/settings", {"utmTagging": True})
    assert (status, body["utmTagging"], body["autoGenerateInsights"]) == (200, True, True)
    assert body["updatedAt"] == "2026-09-01T12:00:00.000Z"
    status, body = world.call("PUT", "/analytics/settings", {"autoGenerateInsights": False})
    assert (body["utmTagging"], body["autoGenerateInsights"]) == (True, False)
    assert world.settings.get(USER).utm_tagging is True


@pytest.mark.parametrize(
    "body",
    [
        {"utmTagging": "true"},
        {"utmTagging": 1},
        {"utmTagging": None},
        {"autoGenerateInsights": "no"},
        {"utmTaging": True},
        {"utmTagging": True, "extra": 1},
        ["utmTagging"],
    ],
)
def test_unknown_settings_and_wrong_types_are_422_and_change_nothing(body: Any) -> None:
    world = World()

    status, answer = world.call("PUT", "/analytics/settings", body)

    assert status == 422
    assert set(answer) == {"code", "message", "details"}
    assert world.settings.get(USER).utm_tagging is False


def test_the_import_route_answers_counts_and_rejections() -> None:
    world = World()

    status, body = world.call(
        "POST", "/analytics/import", {"csv": csv_of(*GOOD, "myspace,x,y,1,,,,,,"), "partial": True}
    )

    assert status == 200
    assert (body["received"], body["imported"], body["rejected"], body["rejectionsTruncated"]) == (
        4,
        3,
        1,
        False,
    )
    assert body["rejections"][0]["row"] == 4
    assert body["rejections"][0]["reason"] == "unknown_platform"
    assert (body["complete"], body["pending"], body["resumeAtRow"]) == (True, 0, None)


def test_the_import_route_refuses_bad_rows_whole_by_default() -> None:
    world = World()

    status, body = world.call("POST", "/analytics/import", {"csv": csv_of(*GOOD, "facebook,x,image,1,,,,,,")})

    assert (status, body["code"]) == (422, "invalid_rows")
    assert body["details"]["rejections"][0]["row"] == 4
    assert list(world.posts.for_user(USER)) == []


def test_the_import_route_takes_bodies_over_256_kb_and_refuses_over_10_mb() -> None:
    world = World()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = [f"youtube,{(start + timedelta(hours=n)).isoformat()},video,{n},{n}" for n in range(9_000)]
    big = {"csv": "platform,publishedAt,contentType,views,likes\n" + "\n".join(rows)}
    assert len(json.dumps(big)) > MAX_BODY_BYTES

    status, body = world.call("POST", "/analytics/import", big)
    assert (status, body["imported"]) == (200, 9_000)

    status, body = world.call("POST", "/analytics/import", raw="x" * (MAX_IMPORT_BYTES + 1))
    assert (status, body["code"], body["details"]["limit"]) == (413, "payload_too_large", MAX_IMPORT_BYTES)
    status, body = world.call("PUT", "/analytics/settings", raw=" " * (MAX_BODY_BYTES + 1))
    assert (status, body["details"]["limit"]) == (413, MAX_BODY_BYTES)  # other routes keep 256 KB


def test_an_import_body_that_is_not_the_json_shape_is_refused() -> None:
    world = World()

    assert world.call("POST", "/analytics/import", raw=csv_of(*GOOD))[0] in (400, 422)
    assert world.call("POST", "/analytics/import", {"csv": csv_of(*GOOD), "partial": "yes"})[0] == 422
    assert world.call("POST", "/analytics/import", {"text": "x"})[0] == 422
