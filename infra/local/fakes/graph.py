"""What Facebook, Instagram and WhatsApp share as Graph API nodes: the versioned path, the access
token (`Authorization: Bearer|OAuth` or the `access_token` parameter), usage headers, cursor paging,
field selection and the Graph error for an unsupported call.

Sources (developers.facebook.com): "Graph API Overview" and "Using the Graph API" (node, edge and
`fields` reads; paging with `cursors.before/after` and `next`), "Rate Limiting" (`X-App-Usage`,
`X-Business-Use-Case-Usage`), "Access Tokens" (a token may be sent as the `access_token` parameter).
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


def graph_node(params: dict[str, str], values: dict[str, Any], default: tuple[str, ...] = ("id",)) -> Reply:
    """A node read: the id and the `fields` asked for (`default` when none), error 100 for a field the
    node does not have."""
    wanted = [f.strip() for f in params.get("fields", "").split(",") if f.strip()] or list(default)
    unknown = [f for f in wanted if f not in values]
    if unknown:
        return graph_error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]})")
    return Reply(200, {"id": values["id"], **{f: values[f] for f in wanted}})
