"""The parts of a template text, in order and with the priority each has when the text must be shortened,
written in the request's tone."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tidings.workflows.content.catalogue import (
    CLOSERS,
    FACT_KEYS,
    FACT_LABELS,
    FACT_PRIORITY,
    INTROS,
    OPENERS,
    POINTS_LEADS,
    STAT_KEYS,
    STAT_PRIORITY,
    TEMPLATES,
    TONES,
    TemplateSpec,
    ToneStyle,
)
from tidings.workflows.content.request import BrandVoice, ContentRequest


@dataclass
class Item:
    key: str
    text: str
    priority: int  # 0: never left out; higher numbers are left out first
    shrinkable: bool = False


@dataclass
class Block:
    items: list[Item]
    render: Callable[[list[str]], str] = " ".join


def _join_lines(parts: list[str]) -> str:
    return "\n".join(parts)


def _join_dots(parts: list[str]) -> str:
    return " · ".join(parts)


def oxford(parts: list[str]) -> str:
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def sentence(text: str, style: ToneStyle, end: str = ".") -> str:
    """`text` as a sentence in the tone: an ending added when it has none; "!" dropped when the tone
    has no exclamation marks; `end` "!" turns a closing "." into "!"."""
    text = text.strip()
    if not text:
        return text
    if style.no_exclaim and text.endswith("!"):
        text = text.rstrip("!") + "."
    if end == "!" and text.endswith("."):
        text = text[:-1] + "!"
    if text[-1] not in ".!?…:":
        text += end
    return text


def headline(topic: str, spec: TemplateSpec, style: ToneStyle) -> str:
    body = topic.strip().rstrip(".!:;,")
    end = "?" if body.endswith("?") else style.end
    body = body.rstrip("?")
    prefix = f"{spec.emoji} " if style.emoji and spec.emoji else ""
    return f"{prefix}{body}{end}" if body else ""


def format_amount(value: Any, currency: str = "") -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        return f"{currency}{text}"
    return str(value).strip()


def plain(value: Any) -> str:
    """A count or figure as written: 3, 2.5, 1,200; text as given."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6g}"
    return str(value).strip()


def _count(value: Any, one: str, many: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{plain(value)} {one if value == 1 else many}"
    return f"{str(value).strip()} {many}"


def _area(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.0f} sq ft"
    return str(value).strip()


def _change(value: Any, period: str) -> tuple[str, str]:
    """(labelled value, sentence) for a price change."""
    suffix = f" {period.strip()}" if period.strip() else ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        sign = "+" if value > 0 else ""
        words = "up" if value > 0 else "down" if value < 0 else "flat at"
        return f"{sign}{value:g}%{suffix}", f"Prices are {words} {abs(value):g}%{suffix}."
    return f"{str(value).strip()}{suffix}", f"Price change: {str(value).strip()}{suffix}."


def labelled(key: str, details: Mapping[str, Any]) -> str:
    """One detail as "Label: value"."""
    value = details[key]
    currency = str(details.get("currency") or "")
    if key in ("price", "medianPrice"):
        shown = format_amount(value, currency)
    elif key == "priceChange":
        shown = _change(value, str(details.get("period") or ""))[0]
    elif key == "area":
        shown = _area(value)
    elif key == "highlights":
        shown = "; ".join(_highlights(details))
    else:
        shown = plain(value)
    return f"{FACT_LABELS.get(key, key)}: {shown}"


def _fact(key: str, details: Mapping[str, Any], style: ToneStyle) -> str:
    if style.labels:
        return labelled(key, details)
    value = details[key]
    if key == "price":
        return format_amount(value, str(details.get("currency") or ""))
    if key == "bedrooms":
        return _count(value, "bedroom", "bedrooms")
    if key == "bathrooms":
        return _count(value, "bathroom", "bathrooms")
    if key == "area":
        return _area(value)
    return str(value).strip()


def _stat(key: str, details: Mapping[str, Any], style: ToneStyle) -> str:
    if style.labels:
        return labelled(key, details)
    if key == "location":
        return f"Area: {plain(details[key])}."
    value = details[key]
    if key == "medianPrice":
        return f"The median sale price is {format_amount(value, str(details.get('currency') or ''))}."
    if key == "priceChange":
        return _change(value, str(details.get("period") or ""))[1]
    if key == "daysOnMarket":
        return f"Homes are selling in {plain(value)} days on average."
    return f"There are {plain(value)} homes for sale."


def _highlights(details: Mapping[str, Any]) -> list[str]:
    raw = details.get("highlights")
    items = [raw] if isinstance(raw, str) else list(raw or [])
    return [" ".join(str(i).split()).rstrip(".!;,") for i in items if str(i).strip()]


def _highlights_block(request: ContentRequest, style: ToneStyle) -> Block | None:
    points = _highlights(request.details)
    if not points:
        return None
    items = [Item("highlights", p, 4 if i == 0 else 5 + i) for i, p in enumerate(points)]
    email = request.template == "email_newsletter"
    bullet = style.bullet or ("- " if email else "")
    lead = POINTS_LEADS[request.tone] if TEMPLATES[request.template].stats else style.highlights_lead
    if bullet:

        def lines(parts: list[str]) -> str:
            return "\n".join(([lead] if lead else []) + [bullet + p[:1].upper() + p[1:] for p in parts])

        return Block(items, lines)

    def one_sentence(parts: list[str]) -> str:
        return f"{lead} {oxford(parts)}." if lead else f"{oxford(parts)}."

    return Block(items, one_sentence)


def compose(request: ContentRequest, extra: bool = False) -> list[Block]:
    """The parts of a template text, in order, before any fitting."""
    spec, style, details = TEMPLATES[request.template], TONES[request.tone], request.details
    email = request.template == "email_newsletter"
    blocks: list[Block] = []
    if email:
        greeting = OPENERS["email_newsletter"][request.tone]
        greeting += f" {spec.emoji}" if style.emoji else ""
        blocks.append(Block([Item("greeting", greeting, 6)]))
        intro = INTROS[request.tone].format(topic=request.topic.rstrip(".!"))
        blocks.append(Block([Item("headline", sentence(intro, style), 0, shrinkable=True)]))
    else:
        text = headline(request.topic, spec, style) or sentence(spec.fallback_headline, style, style.end)
        blocks.append(Block([Item("headline", text, 0, shrinkable=True)]))
        opener = OPENERS[request.template][request.tone]
        if opener:
            blocks.append(Block([Item("opener", opener, 6)]))
    if "date" in details or "time" in details:
        when = ", ".join(str(details[k]).strip() for k in ("date", "time") if k in details)
        blocks.append(Block([Item("date" if "date" in details else "time", f"When: {when}", 1)]))
    blocks += _facts_blocks(request, spec, style)
    highlights = _highlights_block(request, style)
    if highlights:
        blocks.append(highlights)
    if extra:
        blocks.append(Block([Item("extra", sentence(spec.extra, style), 8)]))
    blocks += _closing_blocks(request, style, email)
    return blocks


def _facts_blocks(request: ContentRequest, spec: TemplateSpec, style: ToneStyle) -> list[Block]:
    details = request.details
    blocks = []
    if spec.stats:
        stats = [Item(k, _stat(k, details, style), STAT_PRIORITY[k]) for k in STAT_KEYS if k in details]
        if stats:
            blocks.append(Block(stats, _join_lines if style.labels else " ".join))
    if spec.facts:
        keys = [k for k in FACT_KEYS if k in details and not (spec.stats and k == "location" and blocks)]
        facts = [Item(k, _fact(k, details, style), FACT_PRIORITY[k]) for k in keys]
        if facts:
            blocks.append(Block(facts, _join_lines if style.labels else _join_dots))
    return blocks


def _closing_blocks(request: ContentRequest, style: ToneStyle, email: bool) -> list[Block]:
    details, brand = request.details, request.brand
    cta = str(details.get("cta") or CLOSERS[request.template][request.tone])
    cta_text = style.cta_prefix + sentence(cta, style, style.cta_end or ".")
    blocks = [Block([Item("cta", cta_text, 3)])]
    contact = []
    if "link" in details:
        link = str(details["link"]).strip()
        contact.append(Item("link", f"Details: {link}" if style.labels else link, 2))
    if "phone" in details:
        contact.append(Item("phone", f"Call {str(details['phone']).strip()}", 3))
    if contact:
        blocks.append(Block(contact, _join_lines))
    signing: list[Item] = []
    for index, phrase in enumerate(brand.phrases[:2]):
        signing.append(Item("brandPhrase", sentence(phrase, style), 7 + index * 3))
    signature = _signature(brand, style, email)
    if signature:
        signing.append(Item("signature", signature, 4))
    if signing:
        blocks.append(Block(signing, _join_lines))
    return blocks


def _signature(brand: BrandVoice, style: ToneStyle, email: bool) -> str:
    names = [n for n in (brand.name, brand.tagline) if n] or ([brand.signature] if brand.signature else [])
    if not names:
        return ""
    if email:
        return "\n".join([style.signoff, *names])
    return "— " + " · ".join(names)
