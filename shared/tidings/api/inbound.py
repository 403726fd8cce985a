"""Routes the platforms call (no bearer token: the signature is the proof): Meta webhooks."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from tidings.api.common import doc, json_response
from tidings.api.models import ErrorBody

if TYPE_CHECKING:
    from tidings.core.config import Settings
    from tidings.integrations.inbound import MetaInbox


_TEXT = {"type": "string"}


class Received(BaseModel):
    received: int


def register_inbound_routes(
    app: APIGatewayHttpResolver,
    events: Callable[[], MetaInbox],
    settings: Callable[[], Settings],
    now: Callable[[], datetime],
) -> None:
    @app.get(
        "/inbound/meta",
        summary="Meta's webhook subscription handshake: echoes hub.challenge when hub.verify_token matches",
        responses={
            200: {
                "description": "The challenge, as text",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            403: doc("The verify token does not match", ErrorBody),
            422: doc("Not a handshake", ErrorBody),
        },
        security=[],
    )
    def meta_handshake(
        mode: Annotated[str | None, Query(alias="hub.mode", max_length=32)] = None,
        verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=512)] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=512)] = None,
    ) -> Response[str]:
        from tidings.integrations.inbound import answer_handshake

        params = {
            k: v
            for k, v in (("hub.mode", mode), ("hub.verify_token", verify_token), ("hub.challenge", challenge))
            if v is not None
        }
        text = answer_handshake(params, settings().meta_webhook_verify_token)
        return Response(status_code=200, content_type="text/plain", body=text)

    @app.post(
        "/inbound/meta",
        summary="Meta webhook events, verified by X-Hub-Signature-256 before anything is read",
        responses={
            200: doc("Stored", Received),
            400: doc("Not JSON", ErrorBody),
            401: doc("Missing or wrong signature: nothing was stored", ErrorBody),
            413: doc("More entries than one delivery may hold (1,000): nothing was stored", ErrorBody),
            422: doc("Not a Meta delivery", ErrorBody),
        },
        security=[],
    )
    def meta_events() -> Response[str]:
        event = app.current_event
        body = event.body or ""
        raw = base64.b64decode(body) if event.is_base64_encoded else body.encode()
        count = events().receive_meta(
            raw, event.headers.get("x-hub-signature-256"), settings().meta_app_secret, now()
        )
        return json_response(200, Received(received=count))
