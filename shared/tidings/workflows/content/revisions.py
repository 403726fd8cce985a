"""Gate feedback applied to the parts of a text: banned and avoided phrases, broken links and toxic words
removed, and the details a gate asked for kept whatever the limit."""

from __future__ import annotations

import re
from typing import Any

from tidings.workflows.action import ActionFailed
from tidings.workflows.content.catalogue import FIELD_ALIASES, TEMPLATES, TONES
from tidings.workflows.content.compose import Block, Item, labelled, sentence
from tidings.workflows.content.feedback import Feedback
from tidings.workflows.content.request import ContentRequest
from tidings.workflows.gates import phrase_pattern, toxicity


def removal_patterns(request: ContentRequest, feedback: Feedback) -> list[re.Pattern[str]]:
    phrases = list(dict.fromkeys([*feedback.banned, *request.brand.avoid]))
    return [phrase_pattern(p) for p in phrases]


def remove_phrases(text: str, patterns: list[re.Pattern[str]], detox: bool) -> str:
    """`text` without the phrases (repeated until none is left: a removal can join two halves)."""
    original = text
    if detox:
        text = text.replace("\u2019", "'")  # the word list's phrases are written with straight quotes
    for _ in range(6):
        before = text
        for pattern in patterns:
            text = pattern.sub("", text)
        if detox:
            for term in toxicity(text).terms:
                text = phrase_pattern(term).sub("", text)
        if text == before:
            break
    return tidy(text) if text != original else text


def tidy(text: str) -> str:
    """Whitespace and punctuation left over after a removal."""
    lines = []
    for line in text.split("\n"):
        line = re.sub(r"[ \t]{2,}", " ", line)
        line = re.sub(r"\(\s*\)|\[\s*\]", "", line)
        line = re.sub(r"\s+([,.;:!?…])", r"\1", line)
        line = re.sub(r"([,;:])(\s*[,;:])+", r"\1", line)
        line = re.sub(r"[,;:]\s*([.!?])", r"\1", line)
        line = re.sub(r"^[\s,;:.·\-\u2013\u2014]+(?=\w)", "", line)
        lines.append(line.strip())
    return "\n".join(lines).strip()


def _meaningful(text: str) -> bool:
    return any(c.isalnum() for c in text)


def apply_feedback(
    blocks: list[Block], request: ContentRequest, feedback: Feedback, output: dict[str, Any]
) -> list[Block]:
    """Removals, broken links and the parts a gate asked for; `output` gets the fields asked for."""
    patterns = removal_patterns(request, feedback)
    for block in blocks:
        kept = []
        for item in block.items:
            for url in feedback.broken:
                if url in item.text:
                    item.text = tidy(item.text.replace(url, ""))
            item.text = remove_phrases(item.text, patterns, feedback.detox)
            if item.key == "headline" and not _meaningful(item.text):
                spec, style = TEMPLATES[request.template], TONES[request.tone]
                item.text = sentence(spec.fallback_headline, style, style.end)
            if _meaningful(item.text):
                kept.append(item)
        block.items = kept
    blocks = [b for b in blocks if b.items]
    for path in feedback.missing:
        _set_path(output, path, _force(blocks, path, request))
    if feedback.require_link:
        _force(blocks, "link", request)
    return blocks


def _force(blocks: list[Block], path: str, request: ContentRequest) -> Any:
    """Keep the detail `path` names in the text whatever the limit; its value."""
    key = FIELD_ALIASES.get(path.split(".")[-1].lower().replace("_", ""))
    if key is None or key not in request.details:
        raise ActionFailed(
            f"a quality gate requires {path}, but details has no {key or path.split('.')[-1]}: "
            "add it to the step's details",
            code="missing_detail",
        )
    value = request.details[key]
    found = [item for block in blocks for item in block.items if item.key == key]
    for item in found:
        item.priority = 0
    shown = str(value).strip().lower()
    if not found and not any(shown in item.text.lower() for block in blocks for item in block.items):
        blocks.append(Block([Item(key, labelled(key, request.details), 0)]))
    return value


def _set_path(output: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] in output and not isinstance(output[parts[0]], dict):
        return
    target = output
    for part in parts[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            return
        target = nxt
    target.setdefault(parts[-1], value)
