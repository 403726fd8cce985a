"""A generate_content request: its parameters checked as written in a definition, then parsed into a
`ContentRequest` (with the brand voice and hashtags normalised)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tidings.core.platforms import Platform
from tidings.workflows.action import ActionFailed, is_reference
from tidings.workflows.content.catalogue import DEFAULT_TONE, DETAILS, TEMPLATES, TONES
from tidings.workflows.gates import find_links

PARAMS = ("template", "topic", "platform", "tone", "brandVoice", "details", "hashtags", "useModel")
PLATFORMS = tuple(p.value for p in Platform)
MAX_TOPIC = 500
MAX_HASHTAGS_GIVEN = 60


@dataclass(frozen=True)
class BrandVoice:
    name: str = ""
    tagline: str = ""
    phrases: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    signature: str = ""  # free text that signs the post as written


@dataclass
class ContentRequest:
    template: str
    topic: str
    platform: Platform | None
    tone: str
    brand: BrandVoice
    details: dict[str, Any]
    hashtags: list[str]
    use_model: bool


def check_params(params: Mapping[str, Any]) -> list[str]:
    problems = [f"unknown parameter {k!r}" for k in params if k not in PARAMS]
    template = params.get("template")
    if not is_reference(template) and template not in TEMPLATES:
        problems.append(f"template must be one of {', '.join(TEMPLATES)}")
    topic = params.get("topic")
    if not is_reference(topic) and (not isinstance(topic, str) or not topic.strip()):
        problems.append("topic is required: what the content is about")
    elif isinstance(topic, str) and len(topic) > MAX_TOPIC:
        problems.append(f"topic is longer than {MAX_TOPIC} characters")
    problems += _check_choice("platform", params.get("platform"), PLATFORMS)
    problems += _check_choice("tone", params.get("tone"), tuple(TONES))
    problems += _check_brand(params.get("brandVoice"))
    problems += _check_details(params.get("details"))
    problems += _check_hashtags(params.get("hashtags"))
    use_model = params.get("useModel")
    if use_model is not None and not is_reference(use_model) and not isinstance(use_model, bool):
        problems.append("useModel must be true or false")
    return problems


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> list[str]:
    if value in (None, "") or is_reference(value) or value in choices:
        return []
    return [f"{name} must be one of {', '.join(choices)}"]


def _check_brand(value: Any) -> list[str]:
    if value is None or isinstance(value, str) or is_reference(value):
        return []
    if not isinstance(value, dict):
        return ["brandVoice must be text or an object {name, tagline, phrases, avoid}"]
    problems = [
        f"unknown brandVoice field {k!r}" for k in value if k not in ("name", "tagline", "phrases", "avoid")
    ]
    for key in ("name", "tagline"):
        if value.get(key) is not None and not isinstance(value[key], str):
            problems.append(f"brandVoice.{key} must be text")
    for key in ("phrases", "avoid"):
        items = value.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, str) for i in items)):
            problems.append(f"brandVoice.{key} must be a list of text")
    return problems


def _check_details(value: Any) -> list[str]:
    if value is None or is_reference(value):
        return []
    if not isinstance(value, dict):
        return ["details must be an object"]
    problems = []
    for key, item in value.items():
        if key not in DETAILS:
            problems.append(f"unknown detail {key!r}; known details: {', '.join(DETAILS)}")
        elif item is None or is_reference(item):
            continue
        elif key == "highlights":
            if not isinstance(item, str) and not (
                isinstance(item, list) and all(isinstance(i, str) for i in item)
            ):
                problems.append("details.highlights must be text or a list of text")
        elif isinstance(item, bool) or not isinstance(item, str | int | float):
            problems.append(f"details.{key} must be text or a number")
        elif key == "link" and not (isinstance(item, str) and find_links(item) == [item.strip()]):
            problems.append("details.link must be one http(s) URL")
    return problems


def _check_hashtags(value: Any) -> list[str]:
    if value is None or is_reference(value):
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        return ["hashtags must be a list of text"]
    if len(value) > MAX_HASHTAGS_GIVEN:
        return [f"at most {MAX_HASHTAGS_GIVEN} hashtags"]
    return []


def parse_request(params: Mapping[str, Any]) -> ContentRequest:
    problems = check_params(params)
    if problems:
        raise ActionFailed("; ".join(problems), code="invalid_parameters")
    platform = params.get("platform")
    details = params.get("details") or {}
    return ContentRequest(
        template=str(params["template"]),
        topic=" ".join(str(params["topic"]).split()),
        platform=Platform(platform) if platform else None,
        tone=str(params.get("tone") or DEFAULT_TONE),
        brand=parse_brand(params.get("brandVoice")),
        details={k: v for k, v in details.items() if v not in (None, "", [])},
        hashtags=normalize_hashtags(params.get("hashtags") or []),
        use_model=bool(params.get("useModel", False)),
    )


def parse_brand(value: Any) -> BrandVoice:
    if isinstance(value, dict):
        return BrandVoice(
            name=str(value.get("name") or "").strip(),
            tagline=str(value.get("tagline") or "").strip(),
            phrases=tuple(p.strip() for p in value.get("phrases") or [] if p.strip()),
            avoid=tuple(p.strip() for p in value.get("avoid") or [] if p.strip()),
        )
    text = " ".join(str(value or "").split())
    if "|" not in text:
        return BrandVoice(signature=text)
    parts = [p.strip() for p in text.split("|")]
    phrases = tuple(p.strip() for p in ",".join(parts[2:]).split(",") if p.strip())
    return BrandVoice(name=parts[0], tagline=parts[1], phrases=phrases)


def normalize_hashtags(tags: list[str]) -> list[str]:
    """Hashtags without "#", letters, digits and _ only, at least one letter, no duplicates (any case)."""
    seen: set[str] = set()
    out = []
    for tag in tags:
        clean = re.sub(r"[^\w]", "", tag.strip().lstrip("#"))
        if clean and any(c.isalpha() for c in clean) and clean.lower() not in seen:
            seen.add(clean.lower())
            out.append(clean)
    return out
