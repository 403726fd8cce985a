"""Replies to comments, in the user's tone and brand voice: drafted from what the comment is (the
analysis' reasons) by the template below, or by the configured Bedrock model; and the gate every reply
passes before it is posted, drafted or written by hand: the quality rules of posts (the
content-to-social template's: fair-housing phrases, toxicity at most 0.2, `tidings.workflows.gates`)
with the brand's own phrases to avoid, and the platform's length for a comment.

Comment lengths: Facebook and Instagram take 8,000 and 2,200 characters (Graph API "Comment" and
Instagram's caption/comment limit), a YouTube comment 10,000, an X reply is a post (280, weighted as X
counts: `tidings.core.platforms.text_length`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tidings.core.platforms import Platform, text_length
from tidings.workflows.action import ActionFailed
from tidings.workflows.content.bedrock import call_model
from tidings.workflows.content.catalogue import TONES, ToneStyle
from tidings.workflows.content.compose import sentence
from tidings.workflows.content.request import BrandVoice
from tidings.workflows.gates import ValidationRules, check_rules, too_long
from tidings.workflows.templates import FAIR_HOUSING_PHRASES

REPLY_LIMITS = {
    Platform.FACEBOOK: 8_000,
    Platform.INSTAGRAM: 2_200,
    Platform.YOUTUBE: 10_000,
    Platform.TWITTER: 280,
}
MAX_TOXICITY = 0.2  # as the quality rules of posts
DEFAULT_REPLY_TONE = "friendly"
_EMOJI = {"friendly": "😊", "enthusiastic": "🙌"}


@dataclass(frozen=True)
class ReplyVoice:
    tone: str = DEFAULT_REPLY_TONE
    brand: BrandVoice = field(default_factory=BrandVoice)

    @property
    def style(self) -> ToneStyle:
        return TONES.get(self.tone, TONES[DEFAULT_REPLY_TONE])


@dataclass(frozen=True)
class ReplyRequest:
    comment_text: str
    platform: Platform
    reasons: tuple[str, ...]  # the analysis' reasons (question, complaint, buying_signal, legal...)
    keywords: tuple[str, ...] = ()
    author_name: str | None = None


@dataclass(frozen=True)
class DraftedReply:
    text: str
    source: str  # "template" or "bedrock"


# -- the gate --------------------------------------------------------------------------------------


def reply_rules(platform: Platform, voice: ReplyVoice) -> ValidationRules:
    weighted = platform is Platform.TWITTER  # X's weighted length is checked apart
    return ValidationRules(
        required_fields=["text"],
        min_length=1,
        max_length=None if weighted else REPLY_LIMITS.get(platform),
        banned_phrases=list(dict.fromkeys([*FAIR_HOUSING_PHRASES, *voice.brand.avoid])),
        max_toxicity=MAX_TOXICITY,
    )


def reply_problems(text: str, platform: Platform, voice: ReplyVoice) -> list[str]:
    """Why the reply may not be posted (the gate's reasons); empty when it may."""
    problems = check_rules(
        reply_rules(platform, voice), {"text": text}, http=None, allow_private=False
    ).problems
    if not text.strip() and "text is 0 characters; at least 1 required" not in problems:
        problems.append("text is blank")
    if platform is Platform.TWITTER:
        length = text_length(platform, text)
        if length > REPLY_LIMITS[platform]:
            problems.append(too_long("text", length, REPLY_LIMITS[platform]))
    return problems


# -- the template ----------------------------------------------------------------------------------

_ESCALATION = ("threat", "legal", "crisis")

# (opening, what comes next) per kind of comment; the tone decides the punctuation and emoji
_BODIES = {
    "escalate": (
        "Thank you for raising this with us",
        "We take it seriously and would like to look into it properly, so please contact us directly.",
    ),
    "complaint": (
        "We're sorry to hear about your experience",
        "We'd like to make it right: please send us a message with the details and we'll follow up.",
    ),
    "buying_signal": (
        "Thanks for your interest!",
        "We'd be glad to share the details or arrange a viewing: send us a message and we'll get back "
        "to you shortly.",
    ),
    "question": (
        "Thanks for your question!",
        "Send us a message and we'll get you the answer{about}.",
    ),
}


def kind_of(reasons: tuple[str, ...]) -> str:
    if any(r in _ESCALATION for r in reasons):
        return "escalate"
    for kind in ("complaint", "buying_signal", "question"):
        if kind in reasons:
            return kind
    return "question"


def _first_name(name: str | None) -> str:
    word = (name or "").strip().lstrip("@").split(" ")[0]
    return word if re.fullmatch(r"[\w.'-]{1,40}", word) else ""


def template_reply(request: ReplyRequest, voice: ReplyVoice) -> str:
    """A reply in the voice, from what the comment is; fitted to the platform's length."""
    style, kind = voice.style, kind_of(request.reasons)
    name = _first_name(request.author_name)
    greeting = sentence(f"Hi {name}" if name else "Hi there", style, "!" if style.end == "!" else ",")
    opening, follow = _BODIES[kind]
    about = f" about {request.keywords[0]}" if kind == "question" and request.keywords else ""
    body = [sentence(opening, style, "." if kind in ("escalate", "complaint") else style.end)]
    body.append(sentence(follow.format(about=about), style))
    if kind == "escalate":
        body = [sentence(opening, TONES["professional"]), sentence(follow, TONES["professional"])]
    elif style.emoji and voice.tone in _EMOJI:
        body[-1] += f" {_EMOJI[voice.tone]}"
    extras = []
    if voice.brand.phrases and kind != "escalate":
        extras.append(sentence(voice.brand.phrases[0], style))
    sign = voice.brand.signature or (f"- {voice.brand.name}" if voice.brand.name else "")
    if sign:
        extras.append(sign)
    parts = [greeting, *body, *extras]
    limit = REPLY_LIMITS.get(request.platform)
    while limit and len(parts) > 2 and text_length(request.platform, " ".join(parts)) > limit:
        parts.pop()  # the signature, the brand phrase, then the follow-up go first
    return " ".join(parts)


# -- the model -------------------------------------------------------------------------------------


def model_reply_prompt(request: ReplyRequest, voice: ReplyVoice) -> tuple[str, str]:
    """(system prompt, user prompt) for a reply drafted by the model."""
    system = (
        "You answer comments on a small local business's social media posts, as the business. "
        f"Tone: {voice.style.describe}. Be brief and kind; never argue. Never promise prices, dates, "
        "availability or anything you were not told: invite the person to send a message instead. "
        "Reply with the text alone: no quotation marks, no hashtags, no URLs."
    )
    limit = min(REPLY_LIMITS.get(request.platform, 500), 500)
    what = kind_of(request.reasons).replace("_", " ")
    lines = [
        f"Write a reply of at most {limit} characters on {request.platform}.",
        f"The comment ({what}): {request.comment_text}",
    ]
    if request.author_name:
        lines.append(f"Written by: {request.author_name}")
    brand = voice.brand
    if brand.name:
        lines.append(f"Business name: {brand.name}")
    if brand.phrases:
        lines.append("Phrases the business likes to use: " + "; ".join(brand.phrases))
    avoid = [*FAIR_HOUSING_PHRASES, *brand.avoid]
    lines.append("Never use these phrases: " + "; ".join(f'"{p}"' for p in avoid))
    if brand.signature:
        lines.append(f"End with: {brand.signature}")
    return system, "\n".join(lines)


def draft_reply(
    request: ReplyRequest, voice: ReplyVoice, *, model: Any | None = None, model_id: str = ""
) -> DraftedReply:
    """The model's reply when a model is configured (a Bedrock client and its id) and its draft passes
    the gate; otherwise, or when the model fails or refuses, the template's."""
    if model is not None and model_id.strip():
        system, prompt = model_reply_prompt(request, voice)
        try:
            text = call_model(
                model, model_id.strip(), system, prompt, max_tokens=400, temperature=voice.style.temperature
            )
        except ActionFailed:
            text = ""
        if text and not reply_problems(text, request.platform, voice):
            return DraftedReply(text, "bedrock")
    return DraftedReply(template_reply(request, voice), "template")
