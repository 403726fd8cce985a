"""The reasons a quality gate gave (``ctx.feedback``), read back into what generate_content can act on.
The sentences are written by ``tidings.workflows.gates`` and parsed with its ``FEEDBACK_PATTERNS``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tidings.workflows.content.catalogue import OWN_FIELDS
from tidings.workflows.gates import FEEDBACK_PATTERNS


@dataclass
class Feedback:
    banned: list[str] = field(default_factory=list)
    max_length: int | None = None
    min_length: int | None = None
    missing: list[str] = field(default_factory=list)
    need_hashtags: bool = False
    require_link: bool = False
    broken: list[str] = field(default_factory=list)
    detox: bool = False
    applied: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def parse_feedback(lines: tuple[str, ...] | list[str]) -> Feedback:
    feedback = Feedback()
    for line in lines:
        for kind, pattern in FEEDBACK_PATTERNS.items():
            match = pattern.match(line.strip())
            if match and _take(feedback, kind, match):
                feedback.applied.append(line)
                break
        else:
            feedback.ignored.append(line)
    return feedback


def _take(feedback: Feedback, kind: str, match: re.Match[str]) -> bool:
    """Record one reason; False when generate_content cannot act on it."""
    groups = match.groupdict()
    if groups.get("field") not in (None, "text"):
        return False
    if kind == "banned_phrase":
        feedback.banned.append(groups["phrase"])
    elif kind == "too_long":
        limit = int(groups["limit"])
        feedback.max_length = limit if feedback.max_length is None else min(feedback.max_length, limit)
    elif kind == "too_short":
        feedback.min_length = max(feedback.min_length or 0, int(groups["limit"]))
    elif kind == "link_required":
        feedback.require_link = True
    elif kind == "broken_link":
        feedback.broken.append(groups["url"])
    elif kind == "too_toxic":
        feedback.detox = True
    else:
        return _take_missing(feedback, groups["path"])
    return True


def _take_missing(feedback: Feedback, path: str) -> bool:
    if path == "hashtags":
        feedback.need_hashtags = True
        return True
    if path in OWN_FIELDS:
        return path == "text"
    feedback.missing.append(path)
    return True
