"""The WhatsApp Cloud API's messages endpoint on the fake platform server, under /whatsapp/.

`POST /whatsapp/<version>/{phone-number-id}/messages` sends one text or template message, as the
Cloud API documents it: the bearer token must belong to the phone-number id (registered through
`POST /_accounts` with platform "whatsapp"), the body must be {"messaging_product": "whatsapp",
"to", "type": "text", "text": {"body", "preview_url"?}} or "type": "template", "template": {"name",
"language": {"code"}, "components"?}, else a Graph error with code 100. Free-form text reaches a
contact only within 24 hours of their last inbound message (error 131047 "Re-engagement message"
otherwise); a template must be approved for the phone number (error 132001 otherwise). A sent message
answers {"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]} and
is listed in `/_received` with platform "whatsapp", accountId = the phone-number id, the text (empty
for a template), and `to`, `messageType` and `template`. Faults for platform `whatsapp` (or `all`)
apply to this call.

`GET /whatsapp/<version>/{phone-number-id}?fields=...` reads the phone number, as the Cloud API's
phone number endpoint does (for a connection check): `id`, `display_phone_number` (+1 555- and the
id's last four digits), `verified_name` ("Business {id}"), `quality_rating`,
`code_verification_status`, `platform_type`; by default id, display_phone_number, verified_name and
quality_rating. The token must belong to the phone-number id, else the Graph auth error.

The fake's own: `POST /_whatsapp/templates` {phoneNumberId, name, language} approves a template
(`GET` lists them); `POST /_whatsapp/inbound` {phoneNumberId, from, at?} records a message from a
contact (`at`: ISO 8601 with a zone, or epoch seconds; default now), opening the 24-hour window.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Outcome, Reply, Request, iso_z, parse_time
from infra.local.fakes.graph import graph_node, graph_token, on_node, unsupported
from infra.local.fakes.profiles import PROFILES, graph_error, publish
from infra.local.fakes.state import WHATSAPP, Post

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

WINDOW_SECONDS = 24 * 3600  # the customer service window
MAX_TEXT = 4096
_SEPARATORS = re.compile(r"[\s-]+")
_PHONE = re.compile(r"[1-9][0-9]{6,14}")


def route(fake: FakePlatformServer, req: Request) -> Outcome:
    """Everything under /whatsapp/ (the Cloud API) and /_whatsapp/ (the fake's own endpoints)."""
    if req.segments and req.segments[0] == "_whatsapp":
        return _own(fake, req)
    return _cloud_api(fake, req)


@on_node
def _cloud_api(fake: FakePlatformServer, req: Request, node: str, edge: str) -> Outcome:
    if req.method == "GET" and not edge:
        fake.store.count("whatsapp.phone_number.read")
        if fake.store.account_for(WHATSAPP, graph_token(req)) != node:
            return PROFILES[WHATSAPP].auth_error()
        return _phone_number(node, req.query)
    if req.method != "POST" or edge != "messages" or len(req.segments) > 4:
        return unsupported(req)
    fake.store.count("whatsapp.messages")
    if fake.store.account_for(WHATSAPP, graph_token(req)) != node:
        return PROFILES[WHATSAPP].auth_error()
    return _send(fake, node, req.json_object())


def _phone_number(node: str, query: dict[str, str]) -> Reply:
    last_four = re.sub(r"\D", "", node)[-4:].rjust(4, "0")
    values = {
        "id": node,
        "display_phone_number": f"+1 555-{last_four}",
        "verified_name": f"Business {node}",
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED",
        "platform_type": "CLOUD_API",
    }
    default = ("id", "display_phone_number", "verified_name", "quality_rating")
    return graph_node(query, values, default=default)


def approve_template(fake: FakePlatformServer, phone_number_id: str, name: str, language: str) -> None:
    """Approve a message template for a phone number (what WhatsApp Manager's review does)."""
    with fake.store.lock:
        fake.store.whatsapp_templates.add((phone_number_id, name, language))


def record_inbound(
    fake: FakePlatformServer, phone_number_id: str, contact: str, at: float | None = None
) -> None:
    """A message from `contact` to the phone number at `at` (epoch seconds, default now)."""
    moment = time.time() if at is None else at
    key = (phone_number_id, contact)
    with fake.store.lock:
        inbound = fake.store.whatsapp_inbound
        inbound[key] = max(moment, inbound.get(key, moment))


def _invalid(details: str) -> Reply:
    return _error(400, 100, "(#100) Invalid parameter", details)


def _error(status: int, code: int, message: str, details: str) -> Reply:
    return graph_error(
        status, code, message, error_data={"messaging_product": "whatsapp", "details": details}
    )


def _send(fake: FakePlatformServer, node: str, body: dict[str, Any]) -> Outcome:
    checked = _check(body)
    if isinstance(checked, Reply):
        return checked
    wa_id, kind, text, template = checked
    store = fake.store
    if kind == "text":
        with store.lock:
            last = store.whatsapp_inbound.get((node, wa_id))
        if last is None or time.time() - last > WINDOW_SECONDS:
            return _error(
                400,
                131047,
                "(#131047) Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer "
                "last replied to this number.",
            )
    else:
        assert template is not None
        name, language = template["name"], template["language"]["code"]
        with store.lock:
            approved = (node, name, language) in store.whatsapp_templates
        if not approved:
            return _error(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                f"template name ({name}) does not exist in {language}",
            )

    def apply() -> Reply:
        number = store.next_id()
        material = f"{node}|{wa_id}|{number}|{uuid.uuid4().hex}".encode()
        message_id = "wamid." + base64.b64encode(material).decode().rstrip("=")
        store.apply(
            Post(WHATSAPP, node, message_id, text, time.time()),
            to=wa_id,
            messageType=kind,
            template=template,
        )
        message: dict[str, str] = {"id": message_id}
        if kind == "template":
            message["message_status"] = "accepted"
        return Reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": str(body["to"]), "wa_id": wa_id}],
                "messages": [message],
            },
        )

    key = f"{wa_id}|{text}" if kind == "text" else f"{wa_id}|template:{template}"
    return publish(fake, WHATSAPP, node, key, apply)


_Message = tuple[str, str, str, dict[str, Any] | None]  # wa_id, type, text, template


def _check(body: dict[str, Any]) -> _Message | Reply:
    """(wa_id, type, text, template) of a well-formed send, or the Graph error it earns."""
    if body.get("messaging_product") != "whatsapp":
        return _invalid("The parameter messaging_product is required and must be 'whatsapp'.")
    if body.get("recipient_type", "individual") != "individual":
        return _invalid("recipient_type must be 'individual'.")
    to = body.get("to")
    wa_id = _SEPARATORS.sub("", to).removeprefix("+") if isinstance(to, str) else ""
    if not _PHONE.fullmatch(wa_id):
        return _invalid("The parameter to must be a phone number in international format.")
    kind = body.get("type", "text")
    if kind == "text":
        return _check_text(wa_id, body.get("text"))
    if kind == "template":
        return _check_template(wa_id, body.get("template"))
    return _invalid(f"The fake serves text and template messages, not {kind!r}.")


def _check_text(wa_id: str, text: Any) -> _Message | Reply:
    if not isinstance(text, dict) or not _filled(text.get("body")):
        return _invalid("The parameter text['body'] is required.")
    if len(text["body"]) > MAX_TEXT:
        return _invalid(f"Param text['body'] must be at most {MAX_TEXT} characters long.")
    if not isinstance(text.get("preview_url", False), bool):
        return _invalid("The parameter text['preview_url'] must be a boolean.")
    return wa_id, "text", text["body"], None


def _check_template(wa_id: str, template: Any) -> _Message | Reply:
    if not isinstance(template, dict) or not _filled(template.get("name")):
        return _invalid("The parameter template['name'] is required.")
    language = template.get("language")
    if not isinstance(language, dict) or not _filled(language.get("code")):
        return _invalid("The parameter template['language']['code'] is required.")
    components = template.get("components", [])
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        return _invalid("The parameter template['components'] must be a list of objects.")
    sent = {"name": template["name"], "language": {"code": language["code"]}, "components": components}
    return wa_id, "template", "", sent


def _filled(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _own(fake: FakePlatformServer, req: Request) -> Reply:
    what = req.segments[1] if len(req.segments) == 2 else ""
    body = req.json_object()
    if what == "templates" and req.method == "GET":
        with fake.store.lock:
            approved = sorted(fake.store.whatsapp_templates)
        return Reply(
            200,
            [
                {"phoneNumberId": p, "name": n, "language": lang, "status": "APPROVED"}
                for p, n, lang in approved
            ],
        )
    if what == "templates" and req.method == "POST":
        phone, name, language = body.get("phoneNumberId"), body.get("name"), body.get("language")
        if not all(isinstance(v, str) and v for v in (phone, name, language)):
            return Reply(400, {"error": "expected {phoneNumberId, name, language}"})
        approve_template(fake, str(phone), str(name), str(language))
        return Reply(201, {"phoneNumberId": phone, "name": name, "language": language, "status": "APPROVED"})
    if what == "inbound" and req.method == "POST":
        phone, sender = body.get("phoneNumberId"), body.get("from")
        contact = _SEPARATORS.sub("", sender).removeprefix("+") if isinstance(sender, str) else ""
        if not (isinstance(phone, str) and phone and _PHONE.fullmatch(contact)):
            return Reply(400, {"error": "expected {phoneNumberId, from (a phone number), at?}"})
        at = _moment(body.get("at"))
        if at is None:
            return Reply(400, {"error": "at: an ISO 8601 time with a zone, or epoch seconds"})
        record_inbound(fake, phone, contact, at)
        return Reply(
            201,
            {
                "phoneNumberId": phone,
                "from": contact,
                "at": iso_z(at),
                "windowEndsAt": iso_z(at + WINDOW_SECONDS),
            },
        )
    return Reply(404, {"error": f"no route {req.method} {req.path}"})


def _moment(value: Any) -> float | None:
    if value is None:
        return time.time()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return parse_time(value)
    return None
