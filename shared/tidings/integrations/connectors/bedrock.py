"""The `ai` integration: Amazon Bedrock through the Converse API, with the function's own IAM role
(no secret is stored). The check asks the model for one token, which proves the model id exists in
the Region, is enabled for the account and may be invoked. Source: Amazon Bedrock API Reference,
"Converse" (modelId, messages, inferenceConfig.maxTokens) and "Errors" (AccessDeniedException,
ResourceNotFoundException, ThrottlingException, ValidationException)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    NothingToSync,
    elapsed_ms,
)
from tidings.models.calls import CallRecord

_CODES = {
    "AccessDeniedException": "auth_failed",
    "UnrecognizedClientException": "auth_failed",
    "ResourceNotFoundException": "not_found",
    "ValidationException": "invalid_settings",
    "ThrottlingException": "rate_limited",
    "ServiceQuotaExceededException": "rate_limited",
    "ModelNotReadyException": "unreachable",
    "ServiceUnavailableException": "unreachable",
    "InternalServerException": "unreachable",
    "ModelTimeoutException": "unreachable",
}


class BedrockConnector(NothingToSync):
    type = "ai"
    provider = "bedrock"
    required_settings: tuple[str, ...] = ("modelId",)
    required_secrets: tuple[str, ...] = ()
    optional_secrets: tuple[str, ...] = ()
    nothing_to_sync = "an AI integration"

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        self._client_factory = client_factory

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        from botocore.exceptions import BotoCoreError, ClientError

        model_id = creds.settings.get("modelId", "").strip()
        if not model_id:
            raise ConnectorError("invalid_settings", "modelId is required")
        started = time.monotonic()
        try:
            response = self._client_factory().converse(
                modelId=model_id,
                messages=[{"role": "user", "content": [{"text": "Reply with OK."}]}],
                inferenceConfig={"maxTokens": 1, "temperature": 0},
            )
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            observe(CallRecord("converse", status, elapsed_ms(started), False))
            error = exc.response.get("Error", {})
            code = _CODES.get(str(error.get("Code")), "unexpected_response")
            raise ConnectorError(
                code, f"Bedrock {error.get('Code')}: {error.get('Message', '')}", status=status
            ) from None
        except BotoCoreError as exc:
            observe(CallRecord("converse", None, elapsed_ms(started), False))
            raise ConnectorError(
                "unreachable", f"Bedrock could not be reached ({type(exc).__name__})"
            ) from None
        observe(CallRecord("converse", 200, elapsed_ms(started), True))
        usage = response.get("usage", {})
        return CheckResult(
            account_label=model_id,
            detail="the model answered",
            facts={"stopReason": response.get("stopReason"), "inputTokens": usage.get("inputTokens")},
        )
