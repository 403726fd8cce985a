"""A text made from its parts: feedback applied, hashtags chosen, fitted to the limit, and the output
object generate_content returns."""

from __future__ import annotations

import re
from typing import Any

from tidings.core.platforms import RULES, text_length
from tidings.workflows.content.catalogue import DEFAULT_TONE, FACT_KEYS, STAT_KEYS, TEMPLATES
from tidings.workflows.content.compose import Block, compose
from tidings.workflows.content.feedback import Feedback
from tidings.workflows.content.fitting import ELLIPSIS, fit, make_fits, render, shorten
from tidings.workflows.content.request import ContentRequest, normalize_hashtags
from tidings.workflows.content.revisions import apply_feedback, removal_patterns, remove_phrases
from tidings.workflows.gates import toxicity


def finish(
    request: ContentRequest,
    feedback: Feedback,
    blocks: list[Block],
    *,
    source: str,
    model_id: str | None = None,
) -> dict[str, Any]:
    output: dict[str, Any] = {}
    blocks = apply_feedback(blocks, request, feedback, output)
    email = request.template == "email_newsletter"
    hashtags = [] if email else _hashtags(request, feedback)
    fits = make_fits(request.platform, feedback.max_length)
    fitted = fit(blocks, hashtags, fits)
    text = remove_phrases(fitted.text, removal_patterns(request, feedback), feedback.detox)
    limit = RULES[request.platform].max_text if request.platform else feedback.max_length
    result: dict[str, Any] = {
        "text": text,
        "hashtags": fitted.hashtags,
        "platform": str(request.platform) if request.platform else None,
        "length": text_length(request.platform, text) if request.platform else len(text),
        "limit": limit,
        "template": request.template,
        "tone": request.tone,
        "source": source,
        "truncated": fitted.truncated,
        "dropped": fitted.dropped,
        "feedbackApplied": feedback.applied,
        "feedbackIgnored": feedback.ignored,
        "unusedDetails": sorted(set(request.details) - used_details(request)),
    }
    if model_id:
        result["modelId"] = model_id
    if email:
        result["subject"] = _subject(request, feedback)
    for key, value in output.items():
        result.setdefault(key, value)
    return result


def _hashtags(request: ContentRequest, feedback: Feedback) -> list[str]:
    tags = list(request.hashtags)
    if feedback.need_hashtags and not tags:
        location = re.sub(r"[^\w]", "", str(request.details.get("location", "")).title())
        tags = normalize_hashtags([*TEMPLATES[request.template].hashtags, location])
    banned = {re.sub(r"\W", "", p).lower() for p in [*feedback.banned, *request.brand.avoid]}
    tags = [t for t in tags if t.lower() not in banned]
    if feedback.detox:
        tags = [t for t in tags if not toxicity(t).terms]
    limit = RULES[request.platform].max_hashtags if request.platform else None
    return tags[:limit] if limit is not None else tags


def _subject(request: ContentRequest, feedback: Feedback) -> str:
    subject = remove_phrases(request.topic, removal_patterns(request, feedback), feedback.detox)
    subject = subject or TEMPLATES[request.template].fallback_headline
    return (
        subject if len(subject) <= 78 else shorten(subject, lambda s: len(s) <= 78) or subject[:77] + ELLIPSIS
    )


def used_details(request: ContentRequest) -> set[str]:
    spec = TEMPLATES[request.template]
    used = {"highlights", "cta", "link", "phone", "date", "time", "currency"}
    if spec.facts:
        used |= set(FACT_KEYS)
    if spec.stats:
        used |= {*STAT_KEYS, "period"}
    return used


def with_template(request: ContentRequest, feedback: Feedback) -> dict[str, Any]:
    if feedback.detox:
        request.tone = DEFAULT_TONE
    blocks = compose(request)
    if feedback.min_length is not None and len(render(blocks, request.hashtags)) < feedback.min_length:
        blocks = compose(request, extra=True)
    return finish(request, feedback, blocks, source="template")
