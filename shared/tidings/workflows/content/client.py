"""Workflow content for one CRM client: the parameters that name the client (`clientId`, and
optionally `integrationId`, `variables`, `fallbacks`), their check as written in a definition, and
the personalisation call (`tidings.crm.personalization`) with its refusals as action failures.

A client that does not exist, a template with a missing variable or an unsafe one fails the step at
once (running it again would fail the same way); a CRM that is down or throttling is a retryable
failure, so the step's retry policy applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tidings.core.errors import TidingsError
from tidings.workflows.action import ActionContext, ActionFailed, is_reference

if TYPE_CHECKING:
    from tidings.crm.personalization import PersonalizationResult

CLIENT_PARAMS = ("clientId", "integrationId", "variables", "fallbacks")
_RETRYABLE_STATUSES = (429, 502, 503)


def check_client_params(params: Mapping[str, Any], *, client_required: bool = False) -> list[str]:
    problems: list[str] = []
    client_id = params.get("clientId")
    if client_id is None:
        if client_required:
            problems.append("clientId is required")
    elif not is_reference(client_id) and (not isinstance(client_id, str) or not client_id.strip()):
        problems.append("clientId must be a CRM client id (text)")
    integration = params.get("integrationId")
    if integration is not None and not isinstance(integration, str):
        problems.append("integrationId must be text")
    for name in ("variables", "fallbacks"):
        value = params.get(name)
        if value is not None and not is_reference(value) and not isinstance(value, dict):
            problems.append(f"{name} must be an object of names to values")
    if client_id is None and any(params.get(n) is not None for n in ("integrationId", "fallbacks")):
        problems.append("integrationId and fallbacks need clientId")
    return problems


def personalize(ctx: ActionContext, params: Mapping[str, Any], template: str) -> PersonalizationResult:
    """`template` rendered for the client the parameters name (or with their variables only)."""
    from tidings.crm.personalization import PersonalizationRequest

    if ctx.services.personalization is None:
        raise ActionFailed("personalisation is not available here", code="personalization_unavailable")
    variables = params.get("variables") or {}
    fallbacks = params.get("fallbacks") or {}
    client_id = params.get("clientId")
    integration_id = params.get("integrationId")
    if not isinstance(variables, dict) or not isinstance(fallbacks, dict):
        raise ActionFailed("variables and fallbacks must be objects", code="invalid_parameters")
    request = PersonalizationRequest(
        template=template,
        client_id=str(client_id) if client_id is not None else None,
        integration_id=str(integration_id) if integration_id is not None else None,
        variables=variables,
        fallbacks={str(k): str(v) for k, v in fallbacks.items()},
        content_type=params.get("contentType") if isinstance(params.get("contentType"), str) else None,
    )
    try:
        return ctx.services.personalization().personalize(ctx.user_id, request)
    except TidingsError as exc:
        raise ActionFailed(
            f"{exc.code}: {exc.message}", code=exc.code, retryable=exc.status in _RETRYABLE_STATUSES
        ) from None


def client_output(result: PersonalizationResult) -> dict[str, Any]:
    """What a step's output says about the client its content was written for."""
    integration = result.integration
    return {
        "clientId": result.client_id,
        "integrationId": integration.integration_id if integration else None,
        "provider": integration.provider if integration else None,
        "fields": result.fields,
        "style": result.style,
        "language": result.language,
    }
