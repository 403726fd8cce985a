"""What Facebook, Instagram and WhatsApp share as Graph API nodes: the versioned path, the access
token (`Authorization: Bearer|OAuth` or the `access_token` parameter), usage headers, cursor paging,
field selection and the Graph error for an unsupported call.

Also what Facebook and Instagram metrics share: field expansion (`reactions.limit(0).summary(true)`),
the insights edges' answer, and the error for a node that does not exist.

Sources (developers.facebook.com): "Graph API Overview" and "Using the Graph API" (node, edge and
`fields` reads; paging with `cursors.before/after` and `next`), "Rate Limiting" (`X-App-Usage`,
`X-Business-Use-Case-Usage`), "Access Tokens" (a token may be sent as the `access_token` parameter),
"Field Expansion" (`.limit()` and `.summary()` on an edge read as a field), "Page Insights" and
"Instagram Media Insights" ({"data": [{name, period, values: [{value}], title, description, id}]};
no metric: code 3001 subcode 1504028), "Handling Errors" (a node that does not exist, or that the
token may not see: code 100, subcode 33).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from infra.local.fakes.base import Outcome, Reply, Request
from infra.local.fakes.profiles import PROFILES, graph_error
from infra.local.fakes.state import Channel

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

GRAPH_VERSION = re.compile(r"^v\d+\.\d+$")


def graph_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_token(req: Request) -> str | None:
    return req.bearer or req.credentials("OAuth") or req.params().get("access_token")


NodeRoute = Callable[["FakePlatformServer", Request, str, str], Outcome]


def on_node(route: NodeRoute) -> Callable[[FakePlatformServer, Request], Outcome]:
    """A route of /<prefix>/<version>/{node}[/{edge}], called with the node and the edge ("" for a
    read of the node itself); another path gets the Graph error."""

    def serve(fake: FakePlatformServer, req: Request) -> Outcome:
        if len(req.segments) < 3 or not GRAPH_VERSION.match(req.segments[1]):
            return graph_error(400, 2500, "Unknown path components")
        return route(fake, req, req.segments[2], req.segments[3] if len(req.segments) > 3 else "")

    return serve


def unsupported(req: Request) -> Reply:
    return graph_error(400, 100, f"Unsupported {req.method.lower()} request.", type="GraphMethodException")


def graph_auth(fake: FakePlatformServer, platform: Channel, req: Request, owner: str) -> Reply | None:
    """The platform's auth error unless the call's token acts for `owner`."""
    if fake.store.account_for(platform, graph_token(req)) != owner:
        return PROFILES[platform].auth_error()
    return None


def usage_headers(account: str) -> dict[str, str]:
    usage: dict[str, list[dict[str, Any]]] = {
        account: [{"type": "pages", "call_count": 1, "total_cputime": 1, "total_time": 1}]
    }
    usage[account][0]["estimated_time_to_regain_access"] = 0
    return {
        "X-App-Usage": json.dumps({"call_count": 1, "total_cputime": 1, "total_time": 1}),
        "X-Business-Use-Case-Usage": json.dumps(usage),
    }


def graph_page(items: list[dict[str, Any]], req: Request, default_limit: int = 25) -> Reply:
    """One page of an edge: {data, paging: {cursors: {before, after}, next?}}."""
    try:
        limit = max(1, min(int(req.query.get("limit", default_limit)), 100))
        offset = int(req.query.get("after", "0") or 0)
    except ValueError:
        return graph_error(400, 100, "Invalid parameter")
    page = items[offset : offset + limit]
    body: dict[str, Any] = {"data": page}
    if page:
        body["paging"] = {"cursors": {"before": str(offset), "after": str(offset + len(page))}}
        if offset + limit < len(items):
            params = {k: v for k, v in req.query.items() if k not in ("after", "access_token")}
            params["after"] = str(offset + len(page))
            query = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in params.items())
            body["paging"]["next"] = f"{req.base_url}{req.path}?{query}"
    return Reply(200, body)


def missing_node(node: str) -> Reply:
    """Graph's answer for a node that does not exist (or was deleted, or the token may not see)."""
    message = (
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation."
    )
    return graph_error(400, 100, message, subcode=33, type="GraphMethodException")


def expanded_fields(params: dict[str, str]) -> dict[str, str]:
    """The `fields` asked for, by name, each with its modifiers (`reactions.limit(0).summary(true)`
    -> {"reactions": ".limit(0).summary(true)"}); commas inside modifiers are kept."""
    out: dict[str, str] = {}
    depth, current = 0, ""
    for char in params.get("fields", "") + ",":
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            name = re.split(r"[.{]", current.strip(), maxsplit=1)[0]
            if name:
                out[name] = current.strip()[len(name) :]
            current = ""
        else:
            current += char
    return out


def requested_metrics(params: dict[str, str]) -> list[str]:
    """An insights call's `metric`: a comma-separated list, or a JSON array (as the SDKs send it)."""
    raw = params.get("metric", "").strip()
    if raw.startswith("["):
        try:
            listed = json.loads(raw)
        except json.JSONDecodeError:
            return [raw]
        return [str(m) for m in listed] if isinstance(listed, list) else [raw]
    return [m.strip() for m in raw.split(",") if m.strip()]


def insights_reply(
    node: str, edge: str, params: dict[str, str], values: dict[str, int], invalid: Callable[[int, str], Reply]
) -> Reply:
    """An insights edge's answer with the lifetime value of each metric asked for; `invalid(index,
    name)` answers a metric the node does not have."""
    wanted = requested_metrics(params)
    if not wanted:
        return graph_error(
            400, 3001, "No metric was specified to be fetched.", subcode=1504028, error_user_title="No Metric"
        )
    for index, name in enumerate(wanted):
        if name not in values:
            return invalid(index, name)
    data = [
        {
            "name": name,
            "period": "lifetime",
            "values": [{"value": values[name]}],
            "title": name.replace("_", " ").capitalize(),
            "description": f"Lifetime: {name}",
            "id": f"{node}/{edge}/{name}/lifetime",
        }
        for name in wanted
    ]
    return Reply(200, {"data": data})


def graph_node(params: dict[str, str], values: dict[str, Any], default: tuple[str, ...] = ("id",)) -> Reply:
    """A node read: the id and the `fields` asked for (`default` when none), error 100 for a field the
    node does not have."""
    wanted = [f.strip() for f in params.get("fields", "").split(",") if f.strip()] or list(default)
    unknown = [f for f in wanted if f not in values]
    if unknown:
        return graph_error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]})")
    return Reply(200, {"id": values["id"], **{f: values[f] for f in wanted}})
