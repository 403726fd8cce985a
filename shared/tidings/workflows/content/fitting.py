"""Fitting a text to a limit (a platform's, as the platform counts it, or a gate's): the order in which
parts are given up is in the generate_content action's doc."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tidings.core.platforms import RULES, Platform, text_length
from tidings.workflows.action import ActionFailed
from tidings.workflows.content.compose import Block, Item

ELLIPSIS = "…"
_ENDS_WITH_URL = re.compile(r"https?://\S+$", re.IGNORECASE)


@dataclass
class Fitted:
    text: str
    hashtags: list[str]
    dropped: list[str]
    truncated: bool


def make_fits(platform: Platform | None, max_length: int | None) -> Callable[[str], bool]:
    limit = RULES[platform].max_text if platform else None

    def fits(text: str) -> bool:
        if limit is not None and platform is not None and text_length(platform, text) > limit:
            return False
        return max_length is None or len(text) <= max_length

    return fits


def render(blocks: list[Block], hashtags: list[str]) -> str:
    parts = [block.render([i.text for i in block.items]) for block in blocks if block.items]
    if hashtags:
        parts.append(" ".join(f"#{t}" for t in hashtags))
    return "\n\n".join(parts)


def shorten(text: str, fits: Callable[[str], bool]) -> str | None:
    """The longest start of `text` ending at a word boundary, with "…", that fits; None if none does."""
    cuts = [m.start() for m in re.finditer(r"\s+", text)]
    best = None
    low, high = 0, len(cuts) - 1
    while low <= high:
        middle = (low + high) // 2
        head = text[: cuts[middle]].rstrip(" \n,;:-\u2013\u2014.·")
        # an ellipsis glued to a URL would become part of the link
        candidate = head + (" " if _ENDS_WITH_URL.search(head) else "") + ELLIPSIS
        if head and fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def fit(blocks: list[Block], hashtags: list[str], fits: Callable[[str], bool]) -> Fitted:
    """The text within the limit (see the module doc for the order things are given up in)."""
    tags = list(hashtags)
    dropped: list[str] = []
    while len(tags) > 3 and not fits(render(blocks, tags)):
        dropped.append("#" + tags.pop())
    while not fits(render(blocks, tags)) and _drop_one(blocks, dropped, least=3):
        pass
    while tags and not fits(render(blocks, tags)):
        dropped.append("#" + tags.pop())
    while not fits(render(blocks, tags)) and _drop_one(blocks, dropped, least=1):
        pass
    truncated = False
    for item in sorted(
        (i for b in blocks for i in b.items if i.shrinkable), key=lambda i: len(i.text), reverse=True
    ):
        if fits(render(blocks, tags)):
            break
        truncated = _shrink(blocks, tags, item, fits) or truncated
    text = render(blocks, tags)
    if not fits(text):
        cut = shorten(text, fits)
        if cut is None:
            raise ActionFailed("the content cannot be made to fit the length limit", code="cannot_fit")
        text, truncated = cut, True
    return Fitted(text, tags, dropped, truncated)


def _drop_one(blocks: list[Block], dropped: list[str], least: int) -> bool:
    """Leave out the least important part whose priority is at least `least` (ties: the later one)."""
    candidates = [
        (item.priority, b, i)
        for b, block in enumerate(blocks)
        for i, item in enumerate(block.items)
        if item.priority >= least
    ]
    if not candidates:
        return False
    _, b, i = max(candidates)
    dropped.append(blocks[b].items.pop(i).key)
    return True


def _shrink(blocks: list[Block], tags: list[str], item: Item, fits: Callable[[str], bool]) -> bool:
    original = item.text

    def fits_with(text: str) -> bool:
        item.text = text
        try:
            return fits(render(blocks, tags))
        finally:
            item.text = original

    shorter = shorten(original, fits_with)
    if shorter is None:
        return False
    item.text = shorter
    return True
