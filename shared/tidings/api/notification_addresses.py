"""HTTP routes of notification addresses: where a user's workflow notifications and alert e-mails
may go (`tidings.notifications`).

`POST /notification-addresses` adds an address and mails it a confirmation link; until its owner
confirms, nothing else is sent to it. The link's routes are called without a bearer token (the sealed
token is the proof): `GET /notification-addresses/confirm/{token}` changes nothing (mail software
and link scanners fetch links by themselves) and answers a page whose one button POSTs back to the
same link; that POST confirms. Both answer JSON to a request that accepts only application/json.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import Field

from tidings.api.common import HTML, JSON, error_response, json_response, responses, wants_json
from tidings.api.models import ApiModel, ErrorBody, Timestamp
from tidings.core.errors import TidingsError

if TYPE_CHECKING:
    from tidings.models.notifications import NotificationAddress
    from tidings.notifications.service import NotificationAddresses

MAX_ADDRESS = 254


class AddressView(ApiModel):
    email: str
    status: str = Field(description="pending (the link was sent, not yet followed) or confirmed")
    created_at: Timestamp
    confirmed_at: Timestamp | None


class AddressList(ApiModel):
    addresses: list[AddressView]
    limit: int = Field(description="How many addresses you may keep")


class AddAddressRequest(ApiModel):
    email: str = Field(max_length=MAX_ADDRESS, description="Where notifications and alerts may go")


class AddedAddress(AddressView):
    confirmation_sent: bool = Field(description="A confirmation link was mailed to the address")


class ConfirmedView(ApiModel):
    confirmed: bool
    email: str


def address_view(a: NotificationAddress) -> AddressView:
    return AddressView(email=a.email, status=a.status, created_at=a.created_at, confirmed_at=a.confirmed_at)


def _page(status: int, title: str, message: str, *, button: str | None = None) -> Response[str]:
    form = (
        f'<form method="post"><button type="submit">{html.escape(button)}</button></form>' if button else ""
    )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        f'<title>{html.escape(title)}</title></head><body style="font-family:system-ui,sans-serif;'
        f'max-width:32rem;margin:4rem auto"><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>'
        f"{form}</body></html>"
    )
    return Response(status_code=status, content_type=HTML, body=body, headers={"Cache-Control": "no-store"})


LINK_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "A page (or JSON {confirmed, email})",
        "content": {HTML: {"schema": {"type": "string"}}, JSON: {"model": ConfirmedView}},
    },
    404: {
        "description": "Not a link Tidings made, cut or changed, or the address was deleted since (a "
        "page, or the error as JSON)",
        "content": {HTML: {"schema": {"type": "string"}}, JSON: {"model": ErrorBody}},
    },
    410: {
        "description": "The link has expired: add the address again for a new one (a page, or the "
        "error as JSON)",
        "content": {HTML: {"schema": {"type": "string"}}, JSON: {"model": ErrorBody}},
    },
}


def register_notification_address_routes(
    app: APIGatewayHttpResolver, service: Callable[[], NotificationAddresses], user_id: Callable[[], str]
) -> None:
    def answer(token: str, confirm: bool) -> Response[str]:
        as_json = wants_json(app.current_event.headers.get("accept"))
        try:
            found = service().confirm(token) if confirm else service().link_target(token)
        except TidingsError as exc:
            if as_json or exc.status not in (404, 410):
                raise
            return _page(exc.status, "This link does not work", exc.message)
        if as_json:
            return json_response(200, ConfirmedView(confirmed=found.confirmed, email=found.email))
        if found.confirmed:
            return _page(200, "Address confirmed", f"Notifications may now be sent to {found.email}.")
        return _page(
            200,
            "Confirm this address?",
            f"Allow a Tidings user's workflow notifications and alerts to be sent to {found.email}.",
            button="Confirm",
        )

    @app.get(
        "/notification-addresses/confirm/<token>",
        summary="The confirmation link mailed to a new notification address: a page (no bearer token)",
        description="Changes nothing (mail scanners follow links): a page whose button POSTs to the "
        "same link.",
        responses=LINK_RESPONSES,
        security=[],
    )
    def confirmation_page(token: str) -> Response[str]:
        return answer(token, confirm=False)

    @app.post(
        "/notification-addresses/confirm/<token>",
        summary="Confirm a notification address (the page's button; no bearer token)",
        responses=LINK_RESPONSES,
        security=[],
    )
    def confirm_address(token: str) -> Response[str]:
        return answer(token, confirm=True)

    @app.get(
        "/notification-addresses",
        summary="Your notification addresses: where workflow notifications and alert e-mails may go",
        responses=responses(200, "Your addresses, by address", AddressList),
    )
    def list_addresses() -> Response[str]:
        found = service().list(user_id())
        return json_response(
            200, AddressList(addresses=[address_view(a) for a in found], limit=service().limit)
        )

    @app.post(
        "/notification-addresses",
        summary="Add a notification address: a confirmation link is mailed to it",
        description="Nothing but the link goes to the address until its owner confirms. Adding an "
        "address that waits for confirmation mails a new link; a confirmed one is answered as it is.",
        responses=responses(202, "Added, the link sent (200: confirmed already)", AddedAddress, 409, 429),
    )
    def add_address(body: Annotated[AddAddressRequest, Body()]) -> Response[str]:
        stored, sent = service().add(user_id(), body.email)
        view = AddedAddress(**address_view(stored).model_dump(), confirmation_sent=sent)
        return json_response(202 if sent else 200, view)

    @app.delete(
        "/notification-addresses/<email>",
        summary="Delete a notification address: nothing more is sent to it",
        responses=responses(200, "The address removed", AddressView, 404),
    )
    def delete_address(email: str) -> Response[str]:
        from urllib.parse import unquote

        email = unquote(email)
        if len(email) > MAX_ADDRESS:
            return error_response(
                404, "notification_address_not_found", "that address is not one of your addresses"
            )
        return json_response(200, address_view(service().remove(user_id(), email)))
