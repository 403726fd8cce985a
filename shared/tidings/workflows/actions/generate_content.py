"""generate_content: post copy from a built-in template (deterministic) or from an Amazon Bedrock model.

Parameters
    ``template`` (social_post, listing_post, market_update, open_house, email_newsletter), ``topic``,
    optional ``platform`` (the text then fits its limit, ``tidings.core.platforms.RULES``, measured as the
    platform measures it: X weighs URLs as 23 and wide characters as 2), ``tone`` (below, default
    professional), ``brandVoice``, ``details`` (``content.catalogue.DETAILS``), ``hashtags`` and
    ``useModel`` (default false). With ``clientId`` (and optionally ``integrationId``,
    ``variables``, ``fallbacks``: ``tidings.workflows.content.client``) the content is written for a
    CRM client: every ``{{...}}`` in ``topic``, ``details`` and ``brandVoice`` is filled from the
    client's record (``tidings.crm.personalize``) before writing, and the text is put in the client's
    communication style when it still fits the limit; the output's ``client`` names the client, its
    CRM, the fields used, the style (``styleApplied``) and language.

Output
    ``{"text", "hashtags", "platform", "length", "limit", "template", "tone", "source": "template" |
    "bedrock", "modelId"?, "subject"? (email_newsletter), "truncated", "dropped", "feedbackApplied",
    "feedbackIgnored", "unusedDetails"}``. ``hashtags`` are those that made it into the text (an email
    carries none); ``dropped`` names the parts left out to fit; ``truncated`` is true when a part was
    shortened (always at a word boundary, marked with "…").

Tones (what each changes)
    - professional: the headline ends with "."; no emoji; a "!" ending a sentence you wrote becomes ".";
      highlights as one "Highlights: a, b and c." sentence; formal openers and closers.
    - friendly: the template's emoji before the headline, which ends with "!" (one emoji in all); a
      warm opener and closer; highlights as "What you'll love: a, b and c."
    - enthusiastic: headline emoji and "!"; each highlight on its own line after "✨"; the call to
      action starts with "👉" and ends with "!".
    - informative: no emoji, no "!" endings; facts as "Label: value" lines; highlights as "- " lines
      after "Key features:"; straight to the facts (no opener on listings and open houses).
    Market updates and newsletters call highlights "Key points" ("What this means for you" when
    friendly); a newsletter always lists them on lines. Templates' openers and closers:
    ``content.catalogue.OPENERS``, ``CLOSERS``.

Brand voice
    An object ``{"name", "tagline", "phrases": [...], "avoid": [...]}``: name and tagline sign the post
    ("— Name · Tagline", or the e-mail sign-off), the first two phrases are lines before the
    signature, ``avoid`` phrases are removed like banned phrases. A string is free text: "Name | Tagline |
    phrase, phrase" when it has "|", otherwise it signs the post as written. Empty means no brand.

Fitting a limit, in this order until the text fits
    hashtags beyond the platform's maximum are never used; then hashtags beyond the first three go;
    then parts are left out, least important first (brand phrases, the opener, later highlights, the
    size, the signature, the call to action, rooms, phone); then the remaining hashtags; then the link,
    the market figures, the date, the price and the address (never the headline, nor a part a gate
    asked for); then the headline or body is shortened at a word boundary with "…"; last, the whole
    text is cut at a word boundary with "…" (a URL is kept whole or dropped, never cut).

Feedback understood (``ctx.feedback``, the reasons a gate gave; see ``tidings.workflows.gates``)
    - ``contains banned phrase "X"``: X is removed wherever it appears (whole phrase, any case);
    - ``text is N characters; at most M allowed``: the text is fitted to M characters as well;
    - ``text is N characters; at least M required``: the template's extra sentence is added;
    - ``missing field X``: ``hashtags`` gets the template's default hashtags; any other X is taken from
      ``details`` (its last path segment), kept in the text whatever the limit and copied into the
      output at path X; when ``details`` has no such value the step fails (code ``missing_detail``);
    - ``text must contain a link``: ``details.link`` is kept whatever the limit (or ``missing_detail``);
    - ``broken link URL (why)``: that URL is removed;
    - ``toxicity is S; at most M allowed``: words of the toxicity word list are removed from every
      part and the tone falls back to professional.
    Anything else is listed in ``feedbackIgnored`` (and, with a model, still shown to the model).

The model path (``useModel: true``)
    Calls Bedrock's Converse API with the model in ``TIDINGS_BEDROCK_MODEL_ID``; no model configured is
    a failure (``model_not_configured``), never a silent fall-back to the template. The model writes the
    body; the link, hashtags and anything a gate asked for are added, and the result goes through the
    same removals and fitting as template text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidings.workflows.action import ActionContext
from tidings.workflows.content.assemble import with_template
from tidings.workflows.content.bedrock import with_model
from tidings.workflows.content.client import CLIENT_PARAMS, check_client_params, client_output, personalize
from tidings.workflows.content.feedback import parse_feedback
from tidings.workflows.content.request import check_params, parse_request

if TYPE_CHECKING:
    from tidings.crm.personalization import PersonalizationResult


class GenerateContent:
    name = "generate_content"
    description = (
        "Write post copy from a template (social_post, listing_post, market_update, open_house, "
        "email_newsletter) or, with useModel, an Amazon Bedrock model: `template`, `topic`, `platform`?, "
        "`tone`?, `brandVoice`?, `details`?, `hashtags`?, `useModel`?. Fits the platform's limit and acts "
        "on quality-gate feedback."
    )

    def check_params(self, params: dict[str, Any]) -> list[str]:
        own = {k: v for k, v in params.items() if k not in CLIENT_PARAMS}
        return check_params(own) + check_client_params(params)

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        own = {k: v for k, v in params.items() if k not in CLIENT_PARAMS}
        results: list[PersonalizationResult] = []
        if params.get("clientId") is not None:
            own = _for_client(ctx, params, own, results)
        request = parse_request(own)
        feedback = parse_feedback(ctx.feedback)
        if request.use_model:
            output = with_model(ctx, ctx.services.settings(), request, feedback)
        else:
            output = with_template(request, feedback)
        return _styled(output, results) if results else output


def _for_client(
    ctx: ActionContext, params: dict[str, Any], own: dict[str, Any], results: list[PersonalizationResult]
) -> dict[str, Any]:
    """The parameters with every text of `topic`, `details` and `brandVoice` rendered for the client
    (`results` gets each rendering; the first reads the client, later ones hit the cache)."""

    def render(value: Any) -> Any:
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            result = personalize(ctx, params, value)
            results.append(result)
            return result.content
        if isinstance(value, dict):
            return {k: render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v) for v in value]
        return value

    rendered = {k: render(v) if k in ("topic", "details", "brandVoice") else v for k, v in own.items()}
    if not results:  # nothing to fill in: the client still sets the style
        results.append(personalize(ctx, params, ""))
    return rendered


def _styled(output: dict[str, Any], results: list[PersonalizationResult]) -> dict[str, Any]:
    """The text in the client's communication style (unless that would break the platform's limit),
    and which client and fields it was written for."""
    from tidings.crm.style import restyle

    style = results[-1].style
    text = output.get("text")
    styled = restyle(text, style) if isinstance(text, str) else text
    limit = output.get("limit")
    fits = isinstance(styled, str) and (not isinstance(limit, int) or len(styled) <= limit)
    client = client_output(results[-1])
    client["fields"] = sorted({name for result in results for name in result.fields})
    client["styleApplied"] = bool(style) and fits and styled != text
    return {**output, "text": styled if fits else text, "client": client}


ACTION = GenerateContent()
