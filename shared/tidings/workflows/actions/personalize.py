"""personalize: a template rendered for a CRM client (`tidings.crm.personalize` explains the
template language, the formats and the communication styles).

Parameters
    ``template`` (required), ``clientId`` (optional: without it only ``variables`` fill the
    template), ``integrationId`` (default: the user's default CRM), ``variables``, ``fallbacks``,
    ``contentType`` (email, post or sms).

Output
    ``{"content", "text" (the same, for gates that read text), "variables", "missing" (filled from
    fallbacks), "client": {"clientId", "integrationId", "provider", "fields", "style", "language"}}``.
"""

from __future__ import annotations

from typing import Any

from tidings.workflows.action import ActionContext, ActionFailed, is_reference
from tidings.workflows.content.client import CLIENT_PARAMS, check_client_params, client_output, personalize

_PARAMS = ("template", "contentType", *CLIENT_PARAMS)
CONTENT_TYPES = ("email", "post", "sms")


class Personalize:
    name = "personalize"
    description = (
        "Render a template for a CRM client: `template`, `clientId`?, `integrationId`?, `variables`?, "
        "`fallbacks`?, `contentType`?. A missing variable fails the step unless a fallback fills it."
    )

    def check_params(self, params: dict[str, Any]) -> list[str]:
        problems = [f"unknown parameter {k!r}" for k in params if k not in _PARAMS]
        template = params.get("template")
        if not is_reference(template) and (not isinstance(template, str) or not template.strip()):
            problems.append("template is required (text)")
        kind = params.get("contentType")
        if kind is not None and not is_reference(kind) and kind not in CONTENT_TYPES:
            problems.append(f"contentType must be one of {', '.join(CONTENT_TYPES)}")
        return problems + check_client_params(params)

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        template = params.get("template")
        if not isinstance(template, str) or not template.strip():
            raise ActionFailed("template must be text", code="invalid_parameters")
        result = personalize(ctx, params, template)
        return {
            "content": result.content,
            "text": result.content,
            "variables": result.variables,
            "missing": result.missing,
            "client": client_output(result),
        }


ACTION = Personalize()
