"""Bootstrapping from history: a CSV of the user's past posts becomes post analytics that the best
time to post (`/optimal-time`) and the insights read like collected ones.

The CSV has a header row; column names are matched without regard to case:

- `platform`: facebook, instagram, twitter (or x), linkedin, youtube, tiktok;
- `publishedAt`: ISO 8601 with a UTC offset (`2026-03-02T09:15:00-08:00`, or `Z`), not in the future;
- `contentType`: e.g. text, image, video, link (at most 40 characters);
- any of `views`, `reach`, `likes`, `comments`, `shares`, `saves`, `clicks`: whole numbers >= 0; an
  empty cell is a metric the platform did not report (never 0). A row has at least one.

Any other column is refused (a misspelt metric would otherwise be lost without a word). Every row is
validated and each bad one reported by its number (the first row after the header is 1) and the
line it starts on, with each problem. Without `partial` nothing is stored when a row is bad; with it
the good rows are stored and the bad ones reported. An exact repeat of an earlier row is refused as
a duplicate.

Each row becomes a PostAnalytics record with source `imported` and status `complete` (nothing to
collect). Its post id is derived from the row's platform, publication time and content type (and
how many earlier rows of the file share them), so importing the same file again, or a later export
of the same posts with grown numbers, replaces the earlier import instead of adding to it; a
collected record is never replaced (`PostAnalyticsRepository.put_imported`).

Limits: 10 MB of CSV and 50,000 rows per request (413 naming the limit beyond). API Gateway HTTP
APIs cap a request's payload at 10 MB ("Quotas for configuring and running an HTTP API in API
Gateway": Payload size 10 MB, not adjustable). A request must answer within API Gateway's 30 s, so
the rows are written for at most TIME_BUDGET_SECONDS; what is left is reported (`pending`, and the
row to send again from), never silently dropped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock, iso_ms
from tidings.core.errors import PayloadTooLarge, ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.post_analytics import (
    METRIC_NAMES,
    AnalyticsSource,
    CollectionStatus,
    PostAnalytics,
    PostMetrics,
)
from tidings.store.post_analytics import PostAnalyticsRepository

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
REJECTIONS_SHOWN = 1_000  # rejections listed in one answer (all are counted)
REQUIRED_COLUMNS = ("platform", "publishedAt", "contentType")
MAX_CONTENT_TYPE = 40
MAX_METRIC = 10**12
FUTURE_SKEW = timedelta(minutes=5)
WRITE_CHUNK = 100  # records per put_imported call; chunks are written side by side
# An import answers within API Gateway's 30 s: what is not written by then is left for another request
# (see ImportReport.pending); reading and checking 50,000 rows takes a few seconds of it.
TIME_BUDGET_SECONDS = 22.0
_ALIASES = {"x": Platform.TWITTER}
_WHOLE = re.compile(r"^[0-9]+$")
_CANONICAL = {name.lower(): name for name in (*REQUIRED_COLUMNS, *METRIC_NAMES)}


@dataclass(frozen=True)
class RowProblem:
    column: str | None
    code: str
    message: str


@dataclass(frozen=True)
class Rejection:
    row: int  # 1 is the first row after the header
    line: int  # the line of the file the row starts on
    problems: tuple[RowProblem, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "line": self.line,
            "reason": self.problems[0].code,
            "problems": [{"column": p.column, "code": p.code, "message": p.message} for p in self.problems],
        }


@dataclass(frozen=True)
class ParsedHistory:
    received: int
    records: list[PostAnalytics]
    rejections: list[Rejection]
    rows: list[int] = field(default_factory=list)  # each record's row number


@dataclass(frozen=True)
class ImportReport:
    received: int
    imported: int
    rejected: int
    rejections: list[Rejection] = field(default_factory=list)  # the first REJECTIONS_SHOWN
    pending: int = 0  # valid rows not written within the time budget
    resume_at_row: int | None = None  # the first of them: send the file again from this row

    @property
    def rejections_truncated(self) -> bool:
        return self.rejected > len(self.rejections)

    @property
    def complete(self) -> bool:
        return self.pending == 0


def check_size(text: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(
            f"the CSV is {size} bytes; at most {MAX_IMPORT_BYTES} (10 MB) are imported at once",
            {"limit": MAX_IMPORT_BYTES, "size": size},
        )


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record of the CSV with the line it starts on."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationFailed(
                f"the CSV cannot be read near line {reader.line_num}: {exc}",
                {"line": reader.line_num},
                code="invalid_csv",
            ) from None
        if any(cell.strip() for cell in cells):
            yield line, cells
        line = reader.line_num + 1


def _header(cells: list[str], line: int) -> list[str]:
    names = [_CANONICAL.get(cell.strip().lower(), cell.strip()) for cell in cells]
    unknown = [n for n in names if n not in _CANONICAL.values()]
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    duplicate = sorted({n for n in names if names.count(n) > 1})
    if unknown or missing or duplicate or not any(n in METRIC_NAMES for n in names):
        raise ValidationFailed(
            "the CSV header must name platform, publishedAt, contentType and at least one of "
            + ", ".join(METRIC_NAMES)
            + ", and nothing else",
            {
                "line": line,
                "missing": missing,
                "unknown": unknown,
                "duplicate": duplicate,
                "metricColumns": list(METRIC_NAMES),
            },
            code="invalid_csv",
        )
    return names


@dataclass
class _Row:
    """One row being read: what is valid so far, and what is wrong."""

    problems: list[RowProblem] = field(default_factory=list)

    def problem(self, column: str | None, code: str, message: str) -> None:
        self.problems.append(RowProblem(column, code, message))


def _platform(value: str, row: _Row) -> Platform | None:
    name = value.strip().lower()
    try:
        return _ALIASES.get(name) or Platform(name)
    except ValueError:
        supported = ", ".join(str(p) for p in Platform)
        row.problem("platform", "unknown_platform", f"{value.strip()!r} is not one of {supported}")
        return None


def _published_at(value: str, now: datetime, row: _Row) -> datetime | None:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        row.problem("publishedAt", "invalid_published_at", f"{text!r} is not an ISO 8601 time")
        return None
    if moment.tzinfo is None:
        row.problem("publishedAt", "time_without_offset", f"{text!r} has no UTC offset (add Z or +hh:mm)")
        return None
    if moment > now + FUTURE_SKEW:
        row.problem("publishedAt", "published_in_future", f"{text!r} is in the future")
        return None
    return moment


def _content_type(value: str, row: _Row) -> str | None:
    text = value.strip().lower()
    if not text or len(text) > MAX_CONTENT_TYPE:
        row.problem(
            "contentType", "invalid_content_type", f"contentType must be 1 to {MAX_CONTENT_TYPE} characters"
        )
        return None
    return text


def _metrics(values: dict[str, str], row: _Row) -> PostMetrics | None:
    found: dict[str, int] = {}
    for name in METRIC_NAMES:
        text = values.get(name, "").strip()
        if not text:
            continue
        if not _WHOLE.match(text) or int(text) > MAX_METRIC:
            row.problem(
                name, "invalid_metric", f"{name} must be a whole number from 0 to {MAX_METRIC}: {text!r}"
            )
            continue
        found[name] = int(text)
    if not found and not any(p.code == "invalid_metric" for p in row.problems):
        row.problem(None, "no_metrics", "the row has none of " + ", ".join(METRIC_NAMES))
    return PostMetrics(**found) if found else None


def import_post_id(platform: Platform, published_at: datetime, content_type: str, ordinal: int) -> str:
    """The imported post's id: the same for the same row of the same history, whatever the numbers."""
    seed = f"{platform}|{iso_ms(published_at)}|{content_type}|{ordinal}"
    return "imp_" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]


def parse_history(user_id: str, text: str, now: datetime) -> ParsedHistory:
    """Every row of the CSV as a record or a rejection. ValidationFailed (`invalid_csv`) for a file
    that cannot be read or whose header is wrong; PayloadTooLarge beyond the limits."""
    check_size(text)
    rows = _rows(text)
    first = next(rows, None)
    if first is None:
        raise ValidationFailed("the CSV is empty: it needs a header and rows", {}, code="invalid_csv")
    names = _header(first[1], first[0])
    records: list[PostAnalytics] = []
    rejections: list[Rejection] = []
    seen: dict[tuple[str, ...], int] = {}  # a good row's content -> its row number
    numbers: list[int] = []
    ordinals: dict[tuple[str, str, str], int] = {}
    received = 0
    for line, cells in rows:
        received += 1
        if received > MAX_IMPORT_ROWS:
            raise PayloadTooLarge(
                f"the CSV has more than {MAX_IMPORT_ROWS} rows; import at most {MAX_IMPORT_ROWS} at once",
                {"limit": MAX_IMPORT_ROWS, "limitName": "rows"},
                code="too_many_rows",
            )
        row = _Row()
        if len(cells) != len(names):
            row.problem(
                None, "wrong_field_count", f"the row has {len(cells)} fields; the header names {len(names)}"
            )
            rejections.append(Rejection(received, line, tuple(row.problems)))
            continue
        values = dict(zip(names, cells, strict=True))
        platform = _platform(values["platform"], row)
        published = _published_at(values["publishedAt"], now, row)
        content_type = _content_type(values["contentType"], row)
        metrics = _metrics(values, row)
        if row.problems or platform is None or published is None or content_type is None or metrics is None:
            rejections.append(Rejection(received, line, tuple(row.problems)))
            continue
        identity = (str(platform), iso_ms(published), content_type)
        content = (*identity, *(str(getattr(metrics, n)) for n in METRIC_NAMES))
        if content in seen:
            message = f"the same post as row {seen[content]}"
            rejections.append(Rejection(received, line, (RowProblem(None, "duplicate_row", message),)))
            continue
        seen[content] = received
        numbers.append(received)
        ordinal = ordinals.get(identity, 0)
        ordinals[identity] = ordinal + 1
        records.append(
            PostAnalytics(
                user_id=user_id,
                post_id=import_post_id(platform, published, content_type, ordinal),
                platform=platform,
                published_at=published,
                content_type=content_type,
                source=AnalyticsSource.IMPORTED,
                latest=metrics,
                collected_at=now,
                status=CollectionStatus.COMPLETE,
            )
        )
    if received == 0:
        raise ValidationFailed("the CSV has a header but no rows", {"line": first[0]}, code="invalid_csv")
    return ParsedHistory(received, records, rejections, numbers)


class HistoryImport:
    """`POST /analytics/import`: validate a CSV of past posts and store it as imported analytics.

    The valid rows are written in chunks, side by side, in the file's order, for at most
    `budget_seconds` from the start of the request; a chunk not written by then is left, and the
    report names the first row left (`resume_at_row`): sending the rows from there again finishes the
    import (a row written twice is replaced, never duplicated)."""

    def __init__(
        self,
        posts: PostAnalyticsRepository,
        clock: Clock = DEFAULT_CLOCK,
        *,
        writers: int = 8,
        budget_seconds: float = TIME_BUDGET_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.posts = posts
        self.clock = clock
        self.writers = max(1, writers)
        self.budget_seconds = budget_seconds
        self.timer = timer

    def run(self, user_id: str, text: str, *, partial: bool = False) -> ImportReport:
        deadline = self.timer() + self.budget_seconds
        parsed = parse_history(user_id, text, self.clock.now())
        shown = parsed.rejections[:REJECTIONS_SHOWN]
        if parsed.rejections and not partial:
            raise ValidationFailed(
                f"{len(parsed.rejections)} of {parsed.received} rows are invalid; nothing was imported "
                "(send partial=true to import the valid rows)",
                {
                    "received": parsed.received,
                    "rejected": len(parsed.rejections),
                    "rejections": [r.as_json() for r in shown],
                    "rejectionsTruncated": len(parsed.rejections) > len(shown),
                },
                code="invalid_rows",
            )
        imported, written = self._store(parsed.records, deadline)
        pending = len(parsed.records) - written
        resume = parsed.rows[written] if pending else None
        return ImportReport(parsed.received, imported, len(parsed.rejections), shown, pending, resume)

    def _store(self, records: Sequence[PostAnalytics], deadline: float) -> tuple[int, int]:
        """How many records were stored, and how many of the first ones were all written."""
        chunks = [records[i : i + WRITE_CHUNK] for i in range(0, len(records), WRITE_CHUNK)]
        imported = written = 0
        settled = 0  # chunks counted, in order
        with ThreadPoolExecutor(max_workers=self.writers, thread_name_prefix="import") as pool:
            futures = [pool.submit(self.posts.put_imported, chunk) for chunk in chunks]
            for chunk, future in zip(chunks, futures, strict=True):
                try:
                    imported += future.result(timeout=max(0.0, deadline - self.timer()))
                except FutureTimeout:
                    break
                written += len(chunk)
                settled += 1
            for future in futures[settled + 1 :]:
                future.cancel()  # not started yet: left for the next request
        for future in futures[settled:]:
            if future.done() and not future.cancelled() and future.exception() is None:
                imported += future.result()  # finished after the deadline, past the rows left
        return imported, written
