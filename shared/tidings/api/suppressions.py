"""HTTP routes of the suppression list, and the public unsubscribe routes campaign emails link to.

`GET /unsubscribe/{token}` and `POST /unsubscribe/{token}` are called without a bearer token (the
link's token is the proof: signed, and only Tidings can make one). The GET is the link in the email
body: it changes nothing and answers a confirmation page whose one button POSTs
`List-Unsubscribe=One-Click` back to the same link, because mail software and link scanners fetch the
links of an email by themselves (the reason RFC 8058 exists: its abstract). The POST is RFC 8058's
one-click unsubscribe, sent by the mailbox provider with the body `List-Unsubscribe=One-Click`
(`multipart/form-data`, or `application/x-www-form-urlencoded`; RFC 8058, section 3.2), or by that
page's button; it unsubscribes at once, answers 200 (a page to a browser, JSON otherwise) and never
redirects (section 3.1). Both are idempotent. A token Tidings did not make, or that was
cut or changed, is 404 `unsubscribe_link_invalid` (an HTML page for a browser's GET).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qs, unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field

from tidings.api.common import HTML, JSON, doc, error_response, json_response, responses, wants_json
from tidings.api.models import ApiModel, ErrorBody, Timestamp
from tidings.campaigns.unsubscribe import InvalidUnsubscribeToken
from tidings.store.suppressions import MAX_PAGE

if TYPE_CHECKING:
    from tidings.campaigns.suppression import SuppressionService
    from tidings.models.campaigns import Suppression

ONE_CLICK = ("List-Unsubscribe", "One-Click")
MAX_ADDRESS = 254


class SuppressionView(ApiModel):
    email: str
    reason: str = Field(description="unsubscribed, bounced, complained or manual")
    at: Timestamp = Field(description="When the address was first suppressed")
    campaign_id: str | None = Field(description="The campaign whose email led to it")
    detail: str | None = Field(
        description="The bounce's diagnostic or the complaint's type, when SES gave one"
    )


class SuppressionList(ApiModel):
    suppressions: list[SuppressionView]
    cursor: str | None = Field(description="Pass it back as `cursor` for the next page; null at the end")
    total: int = Field(description="Addresses on your list")
    limit: int = Field(description="Addresses the list may hold (entries added by hand are refused beyond)")


class AddSuppressionRequest(ApiModel):
    email: str = Field(max_length=MAX_ADDRESS, description="The address your campaigns must not write to")


class AddedSuppression(SuppressionView):
    created: bool = Field(description="False: the address was on the list already (its first entry is kept)")


class UnsubscribedView(ApiModel):
    unsubscribed: bool
    email: str = Field(description="The address, partly masked")


def suppression_view(s: Suppression) -> SuppressionView:
    return SuppressionView(
        email=s.email, reason=s.reason, at=s.at, campaign_id=s.campaign_id, detail=s.detail
    )


def masked(email: str) -> str:
    """`ann@example.com` -> `a•••@example.com`: enough for its owner to recognise, little for others."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}•••@{domain}" if local else email


def _page(
    status: int, title: str, message: str, code: str | None = None, *, button: str | None = None
) -> Response[str]:
    """A short page; with `button`, a form that POSTs the one-click body to the page's own URL."""
    code_line = f'<p class="code">{html.escape(code)}</p>' if code else ""
    if button:
        code_line += (
            '<form method="post"><input type="hidden" '
            f'name="{ONE_CLICK[0]}" value="{ONE_CLICK[1]}">'
            f'<button type="submit">{html.escape(button)}</button></form>'
        )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;"
        "color:#222}h1{font-size:1.4rem}.code{color:#777;font-size:.8rem}"
        "button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{code_line}</body></html>"
    )
    return Response(status_code=status, content_type=HTML, body=body, headers={"Cache-Control": "no-store"})


def _wants_html(accept: str | None) -> bool:
    return "text/html" in (accept or "").lower()


def _unsubscribed_page(address: str) -> Response[str]:
    return _page(
        200, "You are unsubscribed", f"{address} will receive no more emails from this sender's campaigns."
    )


def is_one_click(body: bytes, content_type: str | None) -> bool:
    """Whether a POST body is RFC 8058's `List-Unsubscribe=One-Click`, form-encoded or multipart."""
    kind = (content_type or "").lower()
    if kind.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + (content_type or "").encode("latin-1", "replace") + b"\r\n\r\n" + body
        )
        if not message.is_multipart():
            return False
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == ONE_CLICK[0]:
                value = part.get_payload(decode=True)
                if isinstance(value, bytes) and value.strip() == ONE_CLICK[1].encode():
                    return True
        return False
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return False
    return ONE_CLICK[1] in [v.strip() for v in fields.get(ONE_CLICK[0], [])]


def confirmation(service: SuppressionService, token: str, accept: str | None) -> Response[str]:
    """What the link's GET answers: a page asking to confirm (nothing changes), the page saying the
    address is unsubscribed already, or the 404 of a link Tidings did not make."""
    as_json = wants_json(accept)
    try:
        target, already = service.link_target(token)
    except InvalidUnsubscribeToken as exc:
        if as_json:
            return error_response(exc.status, exc.code, exc.message, exc.details)
        return _page(
            404,
            "This unsubscribe link does not work",
            "It may have been cut short or changed on its way. Open the link from the email exactly as "
            "it arrived, or reply to the email and ask to be removed.",
            exc.code,
        )
    address = masked(target.email)
    if as_json:
        return json_response(200, UnsubscribedView(unsubscribed=already, email=address))
    if already:
        return _unsubscribed_page(address)
    return _page(
        200,
        "Unsubscribe from these emails?",
        f"{address} will receive no more emails from this sender's campaigns.",
        button="Unsubscribe",
    )


def register_suppression_routes(
    app: APIGatewayHttpResolver, service: Callable[[], SuppressionService], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/unsubscribe/<token>",
        summary="The unsubscribe link in each campaign email: a confirmation page (no bearer token)",
        description="Changes nothing (mail scanners follow links): answers a page asking to confirm, whose "
        "button POSTs List-Unsubscribe=One-Click to the same link, or, when the address is suppressed "
        "already, a page saying so. JSON ({unsubscribed, email}) when the request accepts only "
        "application/json.",
        responses={
            200: {
                "description": "The confirmation page (or JSON)",
                "content": {HTML: {"schema": {"type": "string"}}, JSON: {"model": UnsubscribedView}},
            },
            404: {
                "description": "Not an unsubscribe link Tidings made (or it was cut or changed): a page "
                "saying so, or the error as JSON when only JSON is accepted",
                "content": {HTML: {"schema": {"type": "string"}}, JSON: {"model": ErrorBody}},
            },
        },
        security=[],
    )
    def unsubscribe_page(token: str) -> Response[str]:
        return confirmation(service(), token, app.current_event.headers.get("accept"))

    @app.post(
        "/unsubscribe/<token>",
        summary="One-click unsubscribe (RFC 8058), sent by mailbox providers; no bearer token",
        description="The body must be List-Unsubscribe=One-Click (multipart/form-data or "
        "application/x-www-form-urlencoded): unsubscribes at once. Answers 200, never a redirect: a page to "
        "a request that accepts text/html (the confirmation page's button), JSON otherwise.",
        responses={
            200: {
                "description": "Unsubscribed (or already)",
                "content": {JSON: {"model": UnsubscribedView}, HTML: {"schema": {"type": "string"}}},
            },
            400: doc("The body is not List-Unsubscribe=One-Click", ErrorBody),
            404: doc("Not an unsubscribe link Tidings made (or it was cut or changed)", ErrorBody),
        },
        security=[],
    )
    def one_click_unsubscribe(token: str) -> Response[str]:
        event = app.current_event
        raw = event.body or ""
        body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
        if not is_one_click(body, event.headers.get("content-type")):
            return error_response(
                400,
                "one_click_body_required",
                "a one-click unsubscribe POST carries the body List-Unsubscribe=One-Click (RFC 8058)",
            )
        address = masked(service().unsubscribe(token).suppression.email)
        if _wants_html(event.headers.get("accept")):
            return _unsubscribed_page(address)
        return json_response(200, UnsubscribedView(unsubscribed=True, email=address))

    @app.get(
        "/suppressions",
        summary="Your suppression list: addresses your campaigns never write to, by address",
        responses=responses(200, "A page of the list", SuppressionList, 422),
    )
    def list_suppressions(
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> Response[str]:
        user = user_id()
        found, next_cursor = service().page(user, limit, cursor)
        return json_response(
            200,
            SuppressionList(
                suppressions=[suppression_view(s) for s in found],
                cursor=next_cursor,
                total=service().count(user),
                limit=service().limit,
            ),
        )

    @app.post(
        "/suppressions",
        summary="Add an address to your suppression list by hand",
        responses=responses(201, "Added (200: it was on the list already)", AddedSuppression, 409),
    )
    def add_suppression(body: Annotated[AddSuppressionRequest, Body()]) -> Response[str]:
        stored, created = service().add(user_id(), body.email)
        view = AddedSuppression(**suppression_view(stored).model_dump(), created=created)
        return json_response(201 if created else 200, view)

    @app.delete(
        "/suppressions/<email>",
        summary="Take an address off your suppression list: your campaigns may write to it again",
        responses=responses(200, "The entry removed", SuppressionView, 404),
    )
    def delete_suppression(email: str) -> Response[str]:
        email = unquote(email)  # the path's segment as sent: `ann%40example.com` or `ann@example.com`
        if len(email) > MAX_ADDRESS:
            return error_response(
                404, "suppression_not_found", "that address is not on your suppression list", {}
            )
        return json_response(200, suppression_view(service().remove(user_id(), email)))
