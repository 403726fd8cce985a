"""What the platform clients' metric reads share: splitting ids into the platform's batches, reading a
count that a platform sends as a number or as a digit string, and the two ways a post's metrics are
gone for good (`tidings.models.post_analytics.MetricsUnavailable`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tidings.models.post_analytics import MetricsUnavailable
from tidings.publishing.metrics import MetricsRead

POST_DELETED = "post_deleted"
POST_NOT_FOUND = "post_not_found"


def batches(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    """The distinct ids, in order, in lists of at most `size`."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def read_in_batches(
    ids: Sequence[str],
    size: int,
    read: Callable[[list[str]], dict[str, MetricsRead]],
    *,
    unaskable: Callable[[str], MetricsUnavailable | None] = lambda _: None,
    left_out: Callable[[str], MetricsUnavailable] | None = None,
) -> dict[str, MetricsRead]:
    """The distinct ids read `size` at a time with `read` (one platform call a batch). `unaskable`
    answers an id the platform cannot be asked about, without a call; `left_out`, when given, answers
    each id a batch's answer does not mention (for platforms whose answer leaves out what is gone)."""
    out: dict[str, MetricsRead] = {}
    for batch in batches(ids, size):
        refused = {i: answer for i in batch if (answer := unaskable(i)) is not None}
        out.update(refused)
        asked = [i for i in batch if i not in refused]
        if not asked:
            continue
        answered = read(asked)
        out.update(answered)
        if left_out is not None:
            out.update({i: left_out(i) for i in asked if i not in answered})
    return out


def one_at_a_time(ids: Sequence[str], read: Callable[[str], MetricsRead]) -> dict[str, MetricsRead]:
    """Each distinct id read on its own call (platforms that read one post a call)."""
    return {post_id: read(post_id) for post_id in dict.fromkeys(ids)}


def count(value: Any) -> int | None:
    """A non-negative count (YouTube sends digit strings); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def total(*values: Any) -> int | None:
    """The sum of the counts that are there; None when none is."""
    counts = [c for c in (count(v) for v in values) if c is not None]
    return sum(counts) if counts else None


def deleted(message: str) -> MetricsUnavailable:
    return MetricsUnavailable(reason=POST_DELETED, message=message)


def not_found(message: str) -> MetricsUnavailable:
    return MetricsUnavailable(reason=POST_NOT_FOUND, message=message)
