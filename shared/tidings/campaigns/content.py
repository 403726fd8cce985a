"""A campaign's emails written from its template's copy (`tidings.campaigns.templates`) with the
content package's tones, brand voice and detail formatting (`tidings.workflows.content`), or from a
model's text (`tidings.campaigns.model`), each in the same frame: a greeting, the body, the call to
action, the signature and the unsubscribe footer.

What each tone changes: the greeting and sign-off, the soft close of every email but the last and
the last one's call to action (the content package's closers and tone styles: "!" kept or made ".",
the enthusiastic "👉"), how facts, figures and highlights are shown (one line joined by " · ", or
"Label: value" lines for informative), and an emoji on the first and last subjects (friendly and
enthusiastic). The brand voice signs each email (name and tagline, as the content package signs an
e-mail newsletter), lends one of its phrases to each email in turn, and its `avoid` phrases are
taken out of every subject, preheader and paragraph.

Templates. Subjects, preheaders and bodies are personalisation templates (`tidings.crm.sandbox`):
the greeting is `{{ firstName|default("there") }}`, text the user gave (topic, details, brand voice)
is used as written, so a `{{ variable }}` in it stays one, and every text and HTML body ends with the
unsubscribe link's placeholder `{{ unsubscribeUrl }}` (UNSUBSCRIBE_VARIABLE), which the sender fills
with each recipient's own link.

HTML. The literal text of an HTML body is escaped here (`html_source`: `<`, `>`, `&` and quotes
outside `{{ }}`, `{% %}` and `{# #}`), and the values personalisation puts into it are escaped when
it renders (`tidings.campaigns.render`), so neither the user's text nor a recipient's or a CRM's
values can add markup. Links come from `details.link` (an http(s) URL) and `details.imageUrl` (an
https URL); a URL in the text is made a link. The preheader is not part of the HTML body: the sender
puts it there as the body's first, hidden element (`tidings.campaigns.message`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeGuard

from tidings.campaigns.templates import (
    CALLS_TO_ACTION,
    GREETINGS,
    PLANS,
    SEASON_CHECKLIST,
    SEASON_INTRO,
    SEASON_MARKET,
    Copy,
    Paragraph,
    copy_for,
    flow,
)
from tidings.models.campaigns import CampaignEmail
from tidings.workflows.content.catalogue import CLOSERS, FACT_KEYS, STAT_KEYS, TONES, ToneStyle
from tidings.workflows.content.compose import Block, compose, format_amount, labelled, oxford, plain, sentence
from tidings.workflows.content.request import BrandVoice, ContentRequest
from tidings.workflows.content.revisions import remove_phrases
from tidings.workflows.gates import phrase_pattern

UNSUBSCRIBE_VARIABLE = "unsubscribeUrl"
UNSUBSCRIBE = "{{ unsubscribeUrl }}"

BUTTON_LABELS = {
    "nurture": "Get my home value review",
    "onboarding": "Book a call",
    "listing-promotion": "See the listing",
    "market-update": "Get my market analysis",
    "seasonal": "Plan my move",
    "custom": "Get in touch",
}
SEASON_EMOJI = {"spring": "🌷", "summer": "☀️", "autumn": "🍂", "winter": "❄️"}
_FAST_MARKET_DAYS = 30
_TEMPLATE_TAG = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})", re.DOTALL)
_URL = re.compile(r"(https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]])", re.IGNORECASE)


@dataclass(frozen=True)
class Brief:
    """What a campaign's emails are written from. `request` is the content package's request (tone,
    brand voice and the details it knows); `extra` holds the campaign's own details (imageUrl,
    testimonial, testimonialAuthor, postalAddress); `season` is set for seasonal campaigns."""

    template: str
    count: int
    delay: int
    request: ContentRequest
    audience: str | None = None
    extra: Mapping[str, str] | None = None
    include_images: bool = False
    season: str | None = None
    sender_name: str | None = None  # a campaign variable that names the sender (agentName)


@dataclass(frozen=True)
class Written:
    """One email's copy as a model wrote it: literal text, no fields to fill."""

    subject: str
    preheader: str
    paragraphs: tuple[str, ...]


# -- text helpers ---------------------------------------------------------------------------------------


def html_source(text: str) -> str:
    """`text` for an HTML body: its literal parts escaped (an http(s) URL in them made a link), its
    template tags kept as written."""
    parts = _TEMPLATE_TAG.split(text)
    return "".join(part if i % 2 else _literal_html(part) for i, part in enumerate(parts))


def _literal_html(text: str) -> str:
    pieces = _URL.split(text)
    out = []
    for i, piece in enumerate(pieces):
        escaped = html.escape(piece, quote=True)
        out.append(f'<a href="{escaped}" style="color:#1d4ed8;">{escaped}</a>' if i % 2 else escaped)
    return "".join(out)


def neutralise_tags(text: str) -> str:
    """Model text as literal text: a `{` that would open a template tag gets a space after it."""
    return re.sub(r"\{(?=[{%#])", "{ ", text)


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def _fill(text: str, fields: Mapping[str, str] | None) -> str | None:
    """`text` with its `{name}` fields filled; None when the campaign has no value for one."""
    if fields is None:
        return text
    try:
        return text.format_map(_Fields(fields))
    except KeyError:
        return None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- parts from the content package ------------------------------------------------------------------------


@dataclass(frozen=True)
class Parts:
    """Text the content package writes for this tone and these details."""

    facts: dict[str, str]  # key -> the fact as the tone shows it
    stats: dict[str, str]  # key -> the figure (a sentence, or "Label: value" for informative)
    soft_close: str  # the e-mail newsletter's closer in this tone
    phrases: tuple[str, ...]  # the brand's phrases as sentences
    signature: str  # sign-off and names, or "" without a brand name


def _items(blocks: Sequence[Block]) -> dict[str, str]:
    return {item.key: item.text for block in blocks for item in block.items}


def content_parts(request: ContentRequest) -> Parts:
    listing = _items(compose(replace(request, template="listing_post")))
    market = _items(compose(replace(request, template="market_update")))
    letter = compose(replace(request, template="email_newsletter"))
    letter_items = _items(letter)
    phrases = tuple(item.text for block in letter for item in block.items if item.key == "brandPhrase")
    return Parts(
        facts={k: listing[k] for k in FACT_KEYS if k in listing},
        stats={k: market[k] for k in STAT_KEYS if k in market and k != "location"},
        soft_close=letter_items.get("cta", ""),
        phrases=phrases,
        signature=letter_items.get("signature", ""),
    )


# -- the fields and slots of the copy ---------------------------------------------------------------


def season_of(brief: Brief) -> str:
    return brief.season or "spring"


def fields_for(brief: Brief, parts: Parts) -> dict[str, str]:
    details = brief.request.details
    topic = brief.request.topic.rstrip(".!?")
    location = str(details.get("location") or "").strip()
    fields = {
        "topic": topic,
        "Topic": _capital(topic),
        "area": location or "your area",
        "Area": location or "Local",
        "in_area": f" in {location}" if location else "",
        "season": season_of(brief),
        "Season": _capital(season_of(brief)),
    }
    if brief.audience:
        fields["audience"] = brief.audience
    if "address" in details:
        fields["address"] = str(details["address"]).strip()
    summary = [parts.facts[k] for k in ("bedrooms", "bathrooms", "area", "price") if k in parts.facts]
    fields["summary"] = " · ".join(summary) if summary else f"A new home for sale{fields['in_area']}."
    return fields


@dataclass(frozen=True)
class Piece:
    """One piece of an email body: a paragraph, a list of points (after its lead), a quote or an
    image."""

    kind: str  # "p", "list", "quote", "image"
    text: str = ""
    points: tuple[str, ...] = ()
    source: str = ""  # a quote's author, an image's URL


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _market_notes(brief: Brief, seller: bool) -> list[Piece]:
    details = brief.request.details
    area = str(details.get("location") or "your area")
    period = str(details.get("period") or "").strip()
    suffix = f" {period}" if period else ""
    notes: list[str] = []
    if seller:
        notes.append(
            "For sellers, pricing is the decision that matters most: a home priced in line with recent "
            "sales draws buyers in its first weeks on the market, when interest is highest."
        )
    else:
        notes.append(
            "For buyers, the figures set expectations: how fast to move, how much room there is to "
            "negotiate, and what a budget buys."
        )
    days = details.get("daysOnMarket")
    if _is_number(days):
        fast = days <= _FAST_MARKET_DAYS
        if seller:
            notes.append(
                f"Homes in {area} are selling in {plain(days)} days on average, so a well-prepared home "
                + ("priced right can expect strong early interest." if fast else "may need some patience.")
            )
        elif fast:
            notes.append(
                f"With homes selling in {plain(days)} days on average, good homes do not wait: have your "
                "pre-approval ready and be prepared to decide quickly."
            )
        else:
            notes.append(
                f"With homes taking {plain(days)} days on average to sell, you can take time to compare, "
                "and there may be room to negotiate."
            )
    change = details.get("priceChange")
    if _is_number(change):
        size = f"{abs(change):g}%{suffix}"
        if change > 0 and seller:
            notes.append(
                f"With prices up {size}, buyers are paying more than before, but they compare carefully: "
                "condition and presentation still decide which homes sell first."
            )
        elif change > 0:
            notes.append(
                f"Prices are up {size}; nobody can promise where they go next, so buy for your needs "
                "rather than to time the market."
            )
        elif change < 0 and seller:
            notes.append(
                f"With prices down {size}, a realistic price from the first day avoids chasing the "
                "market down later."
            )
        elif change < 0:
            notes.append(f"Prices are down {size}, which can open opportunities for buyers who are ready.")
    inventory = details.get("inventory")
    if _is_number(inventory) and seller:
        notes.append(
            f"There are {plain(inventory)} homes for sale in {area}: each listing competes for the same "
            "buyers, so first impressions count."
        )
    median = details.get("medianPrice")
    if median is not None and not seller:
        shown = format_amount(median, str(details.get("currency") or ""))
        notes.append(f"The median sale price is {shown}: a useful guide to what a budget buys in {area}.")
    return [Piece("p", note) for note in notes]


def _proof(brief: Brief) -> Piece:
    extra = brief.extra or {}
    quote = extra.get("testimonial")
    if quote:
        author = (extra.get("testimonialAuthor") or "").strip()
        return Piece("quote", quote.strip().strip('"“”'), source=author)
    return Piece(
        "p",
        "We are happy to put you in touch with past clients who have agreed to share their experience: "
        "just reply and ask.",
    )


def _slot(name: str, brief: Brief, parts: Parts, style: ToneStyle) -> list[Piece]:
    details = brief.request.details
    extra = brief.extra or {}
    if name == "@proof":
        return [_proof(brief)]
    if name == "@image":
        url = extra.get("imageUrl")
        if not (brief.include_images and url):
            return []
        alt = str(details.get("address") or brief.request.topic)
        return [Piece("image", alt, source=url)]
    if name == "@facts":
        shown = [parts.facts[k] for k in FACT_KEYS if k in parts.facts and k not in ("address", "location")]
        if not shown:
            return []
        return [Piece("list", "", tuple(shown))] if style.labels else [Piece("p", " · ".join(shown))]
    if name == "@fact_list":
        shown = [labelled(k, details) for k in FACT_KEYS if k in details]
        return [Piece("list", "", tuple(shown))] if shown else []
    if name in ("@highlights", "@highlight_list"):
        return _highlights(details, style, as_list=name == "@highlight_list" or bool(style.bullet))
    return _figure_slot(name, brief, parts, style)


def _figure_slot(name: str, brief: Brief, parts: Parts, style: ToneStyle) -> list[Piece]:
    details = brief.request.details
    if name == "@stats":
        figures = list(parts.stats.values())
        if not figures:
            return []
        return [Piece("list", "", tuple(figures))] if style.labels else [Piece("p", " ".join(figures))]
    if name == "@when":
        when = ", ".join(str(details[k]).strip() for k in ("date", "time") if k in details)
        return [Piece("p", f"Open house: {when}.")] if when else []
    return _later_slot(name, brief)


def _later_slot(name: str, brief: Brief) -> list[Piece]:
    if name in ("@seller_notes", "@buyer_notes"):
        return _market_notes(brief, seller=name == "@seller_notes")
    season = season_of(brief)
    if name == "@season_intro":
        return [Piece("p", SEASON_INTRO[season])]
    if name == "@season_checklist":
        return [Piece("list", "", SEASON_CHECKLIST[season])]
    if name == "@season_market":
        return [Piece("p", text) for text in SEASON_MARKET[season]]
    raise ValueError(f"unknown slot {name}")


def _highlights(details: Mapping[str, Any], style: ToneStyle, *, as_list: bool) -> list[Piece]:
    raw = details.get("highlights")
    items = [raw] if isinstance(raw, str) else list(raw or [])
    points = [" ".join(str(i).split()).rstrip(".!;,") for i in items if str(i).strip()]
    if not points:
        return []
    lead = style.highlights_lead or "Highlights:"
    if as_list:
        return [Piece("list", lead, tuple(_capital(p) for p in points))]
    return [Piece("p", f"{lead} {oxford(points)}.")]


# -- one email ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Framed:
    subject: str
    preheader: str
    greeting: str
    body: list[Piece]
    closing: list[str]  # the call to action or soft close, contact lines
    button: tuple[str, str] | None  # (label, https URL)
    signature: list[str]
    footer: list[str]


def _body(
    paragraphs: Sequence[Paragraph], fields: Mapping[str, str] | None, brief: Brief, parts: Parts
) -> list[Piece]:
    style = TONES[brief.request.tone]
    blocks: list[Piece] = []
    for paragraph in paragraphs:
        if isinstance(paragraph, tuple):
            points = [_fill(p, fields) for p in paragraph]
            kept = tuple(p for p in points if p)
            if kept:
                blocks.append(Piece("list", "", kept))
            continue
        if paragraph.startswith("@") and fields is not None:
            blocks += _slot(paragraph, brief, parts, style)
            continue
        text = _fill(paragraph, fields)
        if not text:
            continue
        blocks.append(Piece("p", text))
    return _lists_with_leads(blocks)


def _lists_with_leads(blocks: list[Piece]) -> list[Piece]:
    """A paragraph ending with ":" followed by a list becomes the list's lead."""
    out: list[Piece] = []
    for block in blocks:
        follows_lead = bool(out) and out[-1].kind == "p" and out[-1].text.endswith(":")
        if block.kind == "list" and not block.text and follows_lead:
            lead = out.pop()
            block = replace(block, text=lead.text)
        out.append(block)
    return out


def _without(text: str, brand: BrandVoice) -> str:
    if not brand.avoid:
        return text
    return remove_phrases(text, [phrase_pattern(p) for p in brand.avoid], False)


def _piece_without(piece: Piece, brand: BrandVoice) -> Piece:
    points = tuple(_without(point, brand) for point in piece.points)
    return replace(piece, text=_without(piece.text, brand), points=points)


def frame(
    brief: Brief,
    parts: Parts,
    n: int,
    role: str,
    copy: Copy | Written,
    fields: Mapping[str, str] | None,
) -> Framed:
    request = brief.request
    style = TONES[request.tone]
    details = request.details
    brand = request.brand
    subject = _fill(copy.subject, fields) or (fields or {}).get("Topic", "") or request.topic
    preheader = _fill(copy.preheader, fields) or ""
    if style.emoji and (n == 1 or role == "call_to_action"):
        emoji = SEASON_EMOJI.get(season_of(brief)) if brief.template == "seasonal" else None
        subject = f"{emoji or PLANS[brief.template].emoji} {subject}"
    body = _body(copy.paragraphs, fields, brief, parts)
    if isinstance(copy, Written) and role in ("introduction", "call_to_action"):
        body += _slot("@image", brief, parts, style)
    closing: list[str] = []
    button = None
    link = str(details.get("link") or "").strip()
    if role == "call_to_action":
        cta = str(details.get("cta") or CALLS_TO_ACTION[brief.template][request.tone])
        closing.append(style.cta_prefix + sentence(cta, style, style.cta_end or "."))
        if link:
            closing.append(link)
            button = (BUTTON_LABELS[brief.template], link)
        if "phone" in details:
            closing.append(f"Or call {str(details['phone']).strip()}.")
    else:
        if link and brief.template == "listing-promotion":
            closing.append(f"Full details: {link}")
        closing.append(parts.soft_close or CLOSERS["email_newsletter"][request.tone])
    signature: list[str] = []
    if parts.phrases:
        signature.append(parts.phrases[(n - 1) % len(parts.phrases)])
    if parts.signature:
        signature += parts.signature.split("\n")
    elif brief.sender_name:
        signature += [style.signoff, brief.sender_name]
    else:
        signature.append(style.signoff)
    sender = brand.name or (brief.sender_name or "us")
    footer: list[str] = []
    postal = (brief.extra or {}).get("postalAddress")
    if postal:
        footer.append(postal)
    footer.append(f"You are receiving this email because you are in touch with {sender}.")
    return Framed(
        subject=_without(subject, brand),
        preheader=_without(preheader, brand),
        greeting=GREETINGS[request.tone],
        body=[_piece_without(piece, brand) for piece in body],
        closing=[_without(line, brand) for line in closing],
        button=button,
        signature=signature,
        footer=footer,
    )


def text_body(email: Framed) -> str:
    chunks = [email.greeting]
    for block in email.body:
        if block.kind == "p":
            chunks.append(block.text)
        elif block.kind == "list":
            lines = [block.text] if block.text else []
            chunks.append("\n".join(lines + [f"- {p}" for p in block.points]))
        elif block.kind == "quote":
            chunks.append(f"“{block.text}”" + (f"\n— {block.source}" if block.source else ""))
    chunks.append("\n".join(email.closing))
    chunks.append("\n".join(email.signature))
    footer = "\n".join([*email.footer, f"Unsubscribe: {UNSUBSCRIBE}"])
    return "\n\n".join(c for c in chunks if c) + "\n\n--\n" + footer


_P = '<p style="margin:0 0 16px;">'


def _html_block(block: Piece) -> str:
    if block.kind == "p":
        return f"{_P}{html_source(block.text)}</p>"
    if block.kind == "list":
        items = "".join(f'<li style="margin:0 0 6px;">{html_source(p)}</li>' for p in block.points)
        lead = f"{_P}{html_source(block.text)}</p>" if block.text else ""
        return f'{lead}<ul style="margin:0 0 16px;padding-left:20px;">{items}</ul>'
    if block.kind == "quote":
        source = ""
        if block.source:
            source = f'<br><span style="color:#57534e;">— {html_source(block.source)}</span>'

        return (
            '<blockquote style="margin:0 0 16px;padding:12px 16px;border-left:4px solid #d6d3d1;'
            f'font-style:italic;">“{html_source(block.text)}”{source}</blockquote>'
        )
    return (
        f'<p style="margin:0 0 16px;"><img src="{html.escape(block.source, quote=True)}" '
        f'alt="{html_source(block.text)}" width="536" '
        'style="display:block;width:100%;max-width:536px;height:auto;border:0;"></p>'
    )


def html_body(email: Framed) -> str:
    parts = [f"{_P}{html_source(email.greeting)}</p>", *(_html_block(b) for b in email.body)]
    for line in email.closing:
        parts.append(f"{_P}{html_source(line)}</p>")
    if email.button:
        label, url = email.button
        parts.append(
            f'<p style="margin:8px 0 24px;"><a href="{html.escape(url, quote=True)}" '
            'style="display:inline-block;padding:12px 20px;background:#1d4ed8;color:#ffffff;'
            f'text-decoration:none;border-radius:6px;font-weight:bold;">{html_source(label)}</a></p>'
        )
    signature = "<br>".join(html_source(line) for line in email.signature)
    parts.append(f'<p style="margin:24px 0 0;">{signature}</p>')
    footer = "<br>".join(html_source(line) for line in email.footer)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html_source(email.subject)}</title></head>\n"
        '<body style="margin:0;padding:0;background:#f5f5f4;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        '<tr><td align="center" style="padding:24px 12px;">\n'
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" '
        'style="max-width:600px;width:100%;background:#ffffff;font-family:Arial,Helvetica,sans-serif;'
        'font-size:16px;line-height:1.5;color:#1c1917;">\n'
        '<tr><td style="padding:32px;">\n' + "\n".join(parts) + "\n</td></tr>\n"
        '<tr><td style="padding:16px 32px 32px;font-size:12px;line-height:1.5;color:#78716c;">'
        f'{footer}<br><a href="{UNSUBSCRIBE}" style="color:#78716c;">Unsubscribe</a></td></tr>\n'
        "</table>\n</td></tr></table>\n</body></html>\n"
    )


# -- the sequence ------------------------------------------------------------------------------------


def write_emails(brief: Brief, written: Sequence[Written] | None = None) -> tuple[CampaignEmail, ...]:
    """The campaign's emails, in order: from the template's copy, or from `written` (a model's text,
    one per email in the same order)."""
    parts = content_parts(brief.request)
    fields = fields_for(brief, parts)
    roles = flow(brief.count)
    seen: dict[str, int] = {}
    emails = []
    for index, role in enumerate(roles):
        n = index + 1
        occurrence = seen.get(role, 0)
        seen[role] = occurrence + 1
        if written is not None:
            framed = frame(brief, parts, n, role, written[index], None)
        else:
            framed = frame(brief, parts, n, role, copy_for(brief.template, role, occurrence), fields)
        emails.append(
            CampaignEmail(
                n=n,
                role=role,
                subject=framed.subject,
                preheader=framed.preheader,
                text=text_body(framed),
                html=html_body(framed),
                delay=0 if n == 1 else brief.delay,
            )
        )
    return tuple(emails)
