"""A campaign's copy written by an Amazon Bedrock model (`useModel`): one Converse call for the whole
sequence (the content package's `call_model`), the model told each email's role, the tone, the brand
and the facts it may use, and asked for a plain-text subject, preheader and body per email.

The model's text is literal text: a `{` that would open a template tag is neutralised, so it can
neither add personalisation variables nor template logic; the frame around it (greeting, call to
action, signature, unsubscribe footer) is the same as for template copy (`tidings.campaigns.content`).
No model configured is a 422 `model_not_configured`, never a silent fall-back to the templates; a
model that is throttled or down is a 503 `model_unavailable`, one that refuses is a 422
`model_refused`, an answer that does not hold every email is a 502 `model_error`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tidings.campaigns.content import Brief, Written, neutralise_tags
from tidings.core.errors import ServiceUnavailable, TidingsError, UpstreamFailed, ValidationFailed
from tidings.workflows.action import ActionFailed
from tidings.workflows.content.bedrock import call_model
from tidings.workflows.content.catalogue import DETAILS, TONES
from tidings.workflows.content.compose import labelled
from tidings.workflows.content.fitting import ELLIPSIS

ROLE_BRIEFS = {
    "introduction": "introduce the series and what the reader will get from it",
    "value": "give practical, useful advice on the topic (a different angle from the other value emails)",
    "social_proof": "show why people trust the business, quoting only the testimonial given if there is "
    "one; without one, invite the reader to ask for references (never invent praise or numbers)",
    "call_to_action": "ask the reader to take the next step (the call to action itself is added after "
    "your text)",
}
MAX_SUBJECT = 120
MAX_PREHEADER = 160
MAX_BODY = 4000
_EMAIL = re.compile(r"^=+\s*EMAIL\s+(\d+)\s*=*\s*$", re.IGNORECASE | re.MULTILINE)
_MODEL_TEMPLATE_NAMES = {
    "nurture": "a nurture sequence for past buyers and sellers, keeping in touch",
    "onboarding": "an onboarding sequence for new leads who just got in touch",
    "listing-promotion": "a sequence promoting one property for sale",
    "market-update": "a local housing market update",
    "seasonal": "a seasonal sequence for homeowners",
    "custom": "a sequence of emails",
}


def prompt(brief: Brief, roles: tuple[str, ...]) -> tuple[str, str]:
    """(system prompt, user prompt) for the whole sequence."""
    request = brief.request
    style = TONES[request.tone]
    system = (
        "You write marketing emails for a real-estate agent. "
        f"Tone: {style.describe}. "
        "Use only the facts you are given; never invent prices, addresses, dates, figures, testimonials "
        "or claims. Write plain text: no HTML, no markdown, no URLs, no placeholders, no curly braces, "
        "no greeting and no sign-off (they are added for you)."
    )
    lines = [
        f"Write {len(roles)} emails: {_MODEL_TEMPLATE_NAMES[brief.template]}.",
        f"Topic: {request.topic}",
    ]
    if brief.season:
        lines.append(f"Season: {brief.season}")
    if brief.audience:
        lines.append(f"Audience: {brief.audience}")
    facts = [labelled(k, request.details) for k in DETAILS if k in request.details and k not in _SKIPPED]
    extra = brief.extra or {}
    if extra.get("testimonial"):
        author = extra.get("testimonialAuthor")
        facts.append(f'Testimonial: "{extra["testimonial"]}"' + (f" ({author})" if author else ""))
    if facts:
        lines += ["Facts:", *(f"- {fact}" for fact in facts)]
    brand = request.brand
    for label, value in (("Business name", brand.name), ("Tagline", brand.tagline)):
        if value:
            lines.append(f"{label}: {value}")
    if brand.phrases:
        lines.append("Phrases the business likes to use: " + "; ".join(brand.phrases))
    if brand.signature:
        lines.append(f"Brand voice: {brand.signature}")
    if brand.avoid:
        lines.append("Never use these phrases: " + "; ".join(f'"{p}"' for p in brand.avoid))
    lines.append("The emails, in order, and what each must do:")
    lines += [f"{n}. {role}: {ROLE_BRIEFS[role]}" for n, role in enumerate(roles, start=1)]
    lines += [
        "Reply with every email in exactly this form and nothing else:",
        "=== EMAIL 1",
        f"Subject: <at most {MAX_SUBJECT // 2} characters>",
        "Preheader: <one sentence, at most 100 characters>",
        "<the body: two to four short paragraphs separated by blank lines, at most 150 words>",
    ]
    return system, "\n".join(lines)


_SKIPPED = ("currency", "period", "link", "cta")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(".,;:") + ELLIPSIS


def parse_reply(reply: str, count: int) -> list[Written]:
    """The emails of the model's reply, in order; UpstreamFailed (`model_error`) when it does not
    hold exactly `count` of them, each with a subject and a body."""
    marks = list(_EMAIL.finditer(reply))
    numbers = [int(m.group(1)) for m in marks]
    if numbers != list(range(1, count + 1)):
        raise _bad_answer(f"it holds emails {numbers or 'none'}, {count} were asked for")
    written = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(reply)
        written.append(_one(reply[mark.end() : end].strip(), index + 1))
    return written


def _one(chunk: str, n: int) -> Written:
    subject = preheader = ""
    lines = chunk.splitlines()
    body_start = 0
    for i, line in enumerate(lines):
        key, _, value = line.partition(":")
        if key.strip().lower() == "subject" and not subject:
            subject = value.strip()
        elif key.strip().lower() == "preheader" and not preheader:
            preheader = value.strip()
        elif line.strip():
            body_start = i
            break
        body_start = i + 1
    body = "\n".join(lines[body_start:]).strip()
    if not subject or not body:
        raise _bad_answer(f"email {n} has no {'subject' if not subject else 'body'}")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body[:MAX_BODY]) if p.strip()]
    return Written(
        subject=neutralise_tags(_cut(subject.strip('"“”'), MAX_SUBJECT)),
        preheader=neutralise_tags(_cut(preheader.strip('"“”'), MAX_PREHEADER)),
        paragraphs=tuple(neutralise_tags(p) for p in paragraphs),
    )


def _bad_answer(why: str) -> UpstreamFailed:
    return UpstreamFailed(
        f"the model's answer could not be used: {why}; try again", {"reason": why}, code="model_error"
    )


def write_with_model(client: Any, model_id: str, brief: Brief, roles: tuple[str, ...]) -> list[Written]:
    """The model's copy for each email (raises the errors of the module docstring)."""
    system, user = prompt(brief, roles)
    try:
        reply = call_model(
            client,
            model_id,
            system,
            user,
            max_tokens=min(8192, 450 * len(roles) + 200),
            temperature=TONES[brief.request.tone].temperature,
        )
    except ActionFailed as exc:
        raise model_failure(exc) from None
    return parse_reply(reply, len(roles))


def model_failure(exc: ActionFailed) -> TidingsError:
    details: Mapping[str, Any] = {"reason": exc.message}
    if exc.code == "model_unavailable":
        return ServiceUnavailable(exc.message, dict(details), code="model_unavailable")
    if exc.code == "model_refused":
        return ValidationFailed(exc.message, dict(details), code="model_refused")
    return UpstreamFailed(exc.message, dict(details), code=exc.code)
