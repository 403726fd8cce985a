"""The model path of generate_content: the prompt, the character budget, and the call to an Amazon
Bedrock model through the Converse API, with its errors classified."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.core.config import Settings
from tidings.core.platforms import RULES
from tidings.workflows.action import ActionContext, ActionFailed
from tidings.workflows.content.assemble import finish
from tidings.workflows.content.catalogue import DEFAULT_TONE, DETAILS, TEMPLATES, TONES
from tidings.workflows.content.compose import Block, Item, labelled
from tidings.workflows.content.feedback import Feedback, parse_feedback
from tidings.workflows.content.request import BrandVoice, ContentRequest

_RETRYABLE_MODEL_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)
_REFUSALS = ("guardrail_intervened", "content_filtered")


def model_prompt(request: ContentRequest, feedback_lines: tuple[str, ...], budget: int) -> tuple[str, str]:
    """(system prompt, user prompt) for the model."""
    spec, style = TEMPLATES[request.template], TONES[request.tone]
    system = (
        "You write marketing copy for a small local business. "
        f"Tone: {style.describe}. "
        "Use only the facts you are given; never invent prices, addresses, dates, figures or claims. "
        "Reply with the text alone: no title, no preamble, no quotation marks, no hashtags, no URLs."
    )
    where = f" for {request.platform}" if request.platform else ""
    lines = [f"Write {spec.description}{where}, at most {budget} characters.", f"Topic: {request.topic}"]
    skip = ("currency", "period", "link")
    facts = [labelled(k, request.details) for k in DETAILS if k in request.details and k not in skip]
    if facts:
        lines += ["Facts:", *(f"- {f}" for f in facts)]
    if "link" in request.details:
        lines.append("A link is added after your text.")
    lines += _brand_lines(request.brand)
    feedback = parse_feedback(feedback_lines)
    avoid = list(dict.fromkeys([*feedback.banned, *request.brand.avoid]))
    if avoid:
        lines.append("Never use these phrases: " + "; ".join(f'"{p}"' for p in avoid))
    if feedback_lines:
        lines.append("An earlier draft was rejected for these reasons; fix them:")
        lines += [f"- {line}" for line in feedback_lines]
    return system, "\n".join(lines)


def _brand_lines(brand: BrandVoice) -> list[str]:
    lines = []
    if brand.name:
        lines.append(f"Business name: {brand.name}")
    if brand.tagline:
        lines.append(f"Tagline: {brand.tagline}")
    if brand.phrases:
        lines.append("Phrases the business likes to use: " + "; ".join(brand.phrases))
    if brand.signature:
        lines.append(f"Brand voice: {brand.signature}")
    return lines


def model_budget(request: ContentRequest, feedback: Feedback) -> int:
    """Characters the model may use, leaving room for the link and hashtags added after it."""
    ceiling = 3000 if request.template == "email_newsletter" else 1500
    limits = [ceiling]
    if request.platform:
        limits.append(RULES[request.platform].max_text)
    if feedback.max_length:
        limits.append(feedback.max_length)
    room = sum(len(t) + 2 for t in request.hashtags[:3]) + (25 if "link" in request.details else 0)
    budget = min(limits) - room
    if request.platform and RULES[request.platform].weighted_length:
        budget = int(budget * 0.9)
    return max(40, budget)


def call_model(
    client: Any, model_id: str, system: str, prompt: str, *, max_tokens: int, temperature: float
) -> str:
    """The model's text through the Converse API. Request and response shapes as documented in the
    Amazon Bedrock API Reference, "Converse" (docs.aws.amazon.com/bedrock/latest/APIReference/
    API_runtime_Converse.html): modelId, messages [{role, content: [{text}]}], system [{text}],
    inferenceConfig {maxTokens, temperature}; the reply is output.message.content[*].text."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            system=[{"text": system}],
            inferenceConfig={"maxTokens": max_tokens, "temperature": temperature},
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        retryable = code in _RETRYABLE_MODEL_ERRORS or (isinstance(status, int) and status >= 500)
        raise ActionFailed(
            f"Bedrock {code or 'error'}: {error.get('Message') or exc}",
            retryable=retryable,
            code="model_unavailable" if retryable else "model_error",
        ) from None
    except BotoCoreError as exc:
        raise ActionFailed(
            f"Bedrock could not be reached: {exc}", retryable=True, code="model_unavailable"
        ) from None
    return _reply_text(response)


def _reply_text(response: Mapping[str, Any]) -> str:
    stop = response.get("stopReason")
    if stop in _REFUSALS:
        raise ActionFailed(f"the model declined to write this content ({stop})", code="model_refused")
    content = response.get("output", {}).get("message", {}).get("content", [])
    texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    text = "\n".join(texts).strip().strip('"“”').strip()
    if not text:
        raise ActionFailed(f"the model returned no text (stopReason {stop})", code="model_empty")
    return text


def with_model(
    ctx: ActionContext, settings: Settings, request: ContentRequest, feedback: Feedback
) -> dict[str, Any]:
    if feedback.detox:
        request.tone = DEFAULT_TONE
    model_id = settings.bedrock_model_id.strip()
    if not model_id:
        raise ActionFailed(
            "useModel is set but no model is configured: set TIDINGS_BEDROCK_MODEL_ID to a Bedrock model "
            "or inference profile id, or generate from the template (useModel: false)",
            code="model_not_configured",
        )
    budget = model_budget(request, feedback)
    system, prompt = model_prompt(request, tuple(ctx.feedback), budget)
    max_tokens = max(256, min(4096, budget // 2))
    temperature = TONES[request.tone].temperature
    client = ctx.services.bedrock()
    body = call_model(client, model_id, system, prompt, max_tokens=max_tokens, temperature=temperature)
    blocks = [Block([Item("body", body, 0, shrinkable=True)])]
    link = str(request.details.get("link", "")).strip()
    if link and link not in body:
        blocks.append(Block([Item("link", link, 2)]))
    return finish(request, feedback, blocks, source="bedrock", model_id=model_id)
