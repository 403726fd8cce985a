"""A CRM of no particular vendor with a plain JSON REST API, on the fake vendor server under
/custom/, for the `custom` connector (configured with URL templates and a field mapping):

    GET  /api/clients/{id}              {id, name: {first, last}, contact: {email, phone}, stage,
                                        source, labels: [...], createdAt, updatedAt, activity:
                                        [{activityId, type, description, timestamp}] (the ten most
                                        recent it received, newest first), ...every property};
                                        404 {error: "client_not_found"}
    POST /api/activities                {activityId, clientId, type, description, timestamp,
                                        metadata?}: 201 {id, activityId, clientId, type,
                                        description, timestamp, metadata, createdAt}; 404
                                        client_not_found; 422 invalid_activity. With an
                                        `Idempotency-Key` header the same key again answers the
                                        first answer (status and body) and stores nothing, and the
                                        key with another body is 422 idempotency_key_reused;
                                        without one, every POST stores a new activity
    GET  /api/activities/{activityId}   the activity with Tidings' activity id, or 404
                                        {error: "activity_not_found"}

The fake's contacts (`POST /_vendors/contacts` with provider "custom") are its clients: their
`properties` are extra top-level keys of the client's JSON. Credentials (`POST /_vendors/accounts`
{provider: "custom", token} | {provider: "custom", apiKey, header?} | {provider: "custom",
username, password}): a bearer token, an API key in a header (X-API-Key unless `header` names
another) or HTTP Basic; anything else is 401 {error: "unauthorized"}. A throttle is 429
{error: "rate_limited"} with Retry-After, a server error 500 {error: "internal_error"}. Each
activity stored is kept once with `record_received("custom", "activity", id, body)`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Outcome, Reply, Request, iso_z, parse_time
from infra.local.fakes.vendor_state import Contact, VendorAnswers, vendor_call

if TYPE_CHECKING:
    from infra.local.fakes.vendors import FakeVendorServer

PROVIDER = "custom"
HISTORY = 10
DEFAULT_HEADER = "X-API-Key"
_REQUIRED = ("activityId", "clientId", "type", "description", "timestamp")


@dataclass(frozen=True)
class CustomCredential:
    kind: str  # "bearer" | "header" | "basic"
    secret: str  # the token, the API key, or "username:password"
    header: str = DEFAULT_HEADER


def register(fake: FakeVendorServer, credential: CustomCredential) -> None:
    with fake.state.lock:
        fake.state.custom_credentials.append(credential)


def register_from(fake: FakeVendorServer, body: Mapping[str, Any]) -> Reply:
    """POST /_vendors/accounts for the custom CRM."""
    token, key, header = body.get("token"), body.get("apiKey"), body.get("header", DEFAULT_HEADER)
    user, password = body.get("username"), body.get("password")
    if isinstance(token, str) and token:
        credential = CustomCredential("bearer", token)
    elif isinstance(key, str) and key and isinstance(header, str) and header:
        credential = CustomCredential("header", key, header)
    elif isinstance(user, str) and user and isinstance(password, str) and password:
        credential = CustomCredential("basic", f"{user}:{password}")
    else:
        return Reply(
            400,
            {
                "error": "expected {provider: custom, token} | {provider: custom, apiKey, header?} | "
                "{provider: custom, username, password}"
            },
        )
    register(fake, credential)
    return Reply(201, {"provider": PROVIDER, "auth": credential.kind})


def accounts(fake: FakeVendorServer) -> list[dict[str, Any]]:
    with fake.state.lock:
        return [{"provider": PROVIDER, "auth": c.kind} for c in fake.state.custom_credentials]


def activities(fake: FakeVendorServer) -> list[dict[str, Any]]:
    """Every activity stored, oldest first (an activity POSTed twice without a key is there twice)."""
    with fake.state.lock:
        stored = [dict(a) for copies in fake.state.custom_activities.values() for a in copies]
    return sorted(stored, key=lambda a: str(a["createdAt"]))


def _error(status: int, error: str, message: str = "") -> Reply:
    return Reply(status, {"error": error, "message": message or error.replace("_", " ")})


def _throttle(retry_after: int) -> Reply:
    reply = _error(429, "rate_limited", "too many requests")
    reply.headers["Retry-After"] = str(retry_after)
    return reply


ANSWERS = VendorAnswers(
    server_error=lambda: _error(500, "internal_error"),
    rate_limited=_throttle,
    unauthorized=lambda: _error(401, "unauthorized", "missing or unknown credentials"),
)


def route(fake: FakeVendorServer, req: Request) -> Outcome:
    rest, method = req.segments[1:], req.method
    handler: Callable[[FakeVendorServer, Request, CustomCredential], Reply] | None = None
    if method == "GET" and len(rest) == 3 and rest[:2] == ["api", "clients"]:
        name, handler = "custom.clients.read", _client
    elif method == "POST" and rest == ["api", "activities"]:
        name, handler = "custom.activities.create", _create
    elif method == "GET" and len(rest) == 3 and rest[:2] == ["api", "activities"]:
        name, handler = "custom.activities.read", _activity
    if handler is None:
        return _error(404, "no_route", f"no route {method} {req.path}")
    outcome, _ = vendor_call(fake, req, PROVIDER, name, ANSWERS, _credential(fake), handler)
    return outcome


def _credential(fake: FakeVendorServer) -> Callable[[Request], CustomCredential | None]:
    def credential(req: Request) -> CustomCredential | None:
        basic = req.basic
        with fake.state.lock:
            known = list(fake.state.custom_credentials)
        for candidate in known:
            if candidate.kind == "bearer" and req.bearer == candidate.secret:
                return candidate
            if candidate.kind == "header" and req.headers.get(candidate.header) == candidate.secret:
                return candidate
            if candidate.kind == "basic" and basic is not None and ":".join(basic) == candidate.secret:
                return candidate
        return None

    return credential


def _contact(fake: FakeVendorServer, client_id: str) -> Contact | None:
    with fake.state.lock:
        return fake.state.contacts.get(PROVIDER, {}).get(client_id)


def _client(fake: FakeVendorServer, req: Request, who: CustomCredential) -> Reply:
    contact = _contact(fake, req.segments[-1])
    if contact is None:
        return _error(404, "client_not_found", f"no client {req.segments[-1]}")
    with fake.state.lock:
        received = [a for copies in fake.state.custom_activities.values() for a in copies]
    recent = sorted(
        (a for a in received if a["clientId"] == contact.id), key=lambda a: str(a["timestamp"]), reverse=True
    )
    body: dict[str, Any] = {
        "id": contact.id,
        "name": {"first": contact.first_name, "last": contact.last_name},
        "contact": {"email": contact.email, "phone": contact.phone},
        "stage": contact.stage,
        "source": contact.source,
        "labels": list(contact.tags),
        "createdAt": iso_z(contact.created),
        "updatedAt": iso_z(contact.updated),
        "activity": [
            {k: a[k] for k in ("activityId", "type", "description", "timestamp")} for a in recent[:HISTORY]
        ],
    }
    body.update(contact.properties)
    return Reply(200, body)


def _activity(fake: FakeVendorServer, req: Request, who: CustomCredential) -> Reply:
    with fake.state.lock:
        copies = fake.state.custom_activities.get(req.segments[-1])
        found = dict(copies[0]) if copies else None
    if found is None:
        return _error(404, "activity_not_found", f"no activity {req.segments[-1]}")
    return Reply(200, found)


def _problem(body: Any) -> str | None:
    """Why an activity cannot be stored, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    missing = [k for k in _REQUIRED if not isinstance(body.get(k), str) or not body[k].strip()]
    if missing:
        return f"missing or empty: {', '.join(missing)}"
    if parse_time(body["timestamp"]) is None:
        return "timestamp must be ISO 8601 with a zone"
    if "metadata" in body and not isinstance(body["metadata"], dict):
        return "metadata must be an object"
    return None


def _create(fake: FakeVendorServer, req: Request, who: CustomCredential) -> Reply:
    key = (req.headers.get("Idempotency-Key") or "").strip()
    fingerprint = req.body.decode("utf-8", "replace")
    if key:
        with fake.state.lock:
            first = fake.state.custom_answers.get(key)
        if first is not None:
            sent, status, answer = first
            if _same_json(sent, fingerprint):
                return Reply(status, answer)
            return _error(422, "idempotency_key_reused", "this Idempotency-Key came with another request")
    reply, stored = _store(fake, req.json())
    if key and reply.status < 500:
        with fake.state.lock:
            fake.state.custom_answers.setdefault(key, (fingerprint, reply.status, reply.body))
    if stored is not None:
        fake.record_received(PROVIDER, "activity", stored["id"], stored)
    return reply


def _store(fake: FakeVendorServer, body: Any) -> tuple[Reply, dict[str, Any] | None]:
    problem = _problem(body)
    if problem is not None:
        return _error(422, "invalid_activity", problem), None
    if _contact(fake, body["clientId"]) is None:
        return _error(404, "client_not_found", f"no client {body['clientId']}"), None
    stored = {
        "id": "act-" + uuid.uuid4().hex[:12],
        **{k: body[k] for k in _REQUIRED},
        "metadata": body.get("metadata") or {},
        "createdAt": iso_z(time.time()),
    }
    with fake.state.lock:
        fake.state.custom_activities.setdefault(body["activityId"], []).append(stored)
    return Reply(201, stored), stored


def _same_json(first: str, second: str) -> bool:
    try:
        return bool(json.loads(first) == json.loads(second))
    except ValueError:
        return first == second
