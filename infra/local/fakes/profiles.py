"""How each fake platform answers trouble: its error bodies, its auth error, server error and throttle
(`PROFILES`), and `publish` and `metric_read`, which run a publishing call or a metric read through
the injected faults."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import ErrorAnswers, Outcome, Reply, Request, log_id, with_fault
from infra.local.fakes.state import WHATSAPP, Channel
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

# -- error bodies ----------------------------------------------------------------------------------


def graph_error(status: int, code: int, message: str, *, subcode: int | None = None, **extra: Any) -> Reply:
    """A Graph API error: {"error": {message, type, code, error_subcode?, fbtrace_id, ...}}."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": log_id(),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return Reply(status, {"error": error})


def x_problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Reply:
    """An X API v2 problem: {title, detail, type, status}."""
    return Reply(
        status, {"title": title, "detail": detail, "type": "about:blank", "status": status}, headers or {}
    )


def li_error(status: int, code: str, message: str, service_code: int | None = None) -> Reply:
    """A LinkedIn REST error: {status, code, message, serviceErrorCode?}."""
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return Reply(status, body)


def google_error(status: int, reason: str, message: str, domain: str = "global", state: str = "") -> Reply:
    """A Google API error: {"error": {code, message, errors: [{message, domain, reason}], status}}."""
    error = {
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
        "status": state,
    }
    return Reply(status, {"error": error})


def tiktok_reply(data: dict[str, Any], status: int = 200, code: str = "ok", message: str = "") -> Reply:
    """A TikTok answer: {data, error: {code, message, log_id}} (code "ok" on success)."""
    return Reply(status, {"data": data, "error": {"code": code, "message": message, "log_id": log_id()}})


# -- throttles -------------------------------------------------------------------------------------


def _graph_throttle(code: int, message: str) -> Callable[[int], Reply]:
    def reply(retry_after: int) -> Reply:
        out = graph_error(429, code, message, is_transient=True)
        usage: list[dict[str, Any]] = [
            {"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 40}
        ]
        usage[0]["estimated_time_to_regain_access"] = max(1, (retry_after + 59) // 60)
        out.headers = {
            "Retry-After": str(retry_after),
            "X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 40, "total_time": 40}),
            "X-Business-Use-Case-Usage": json.dumps({"fake-business": usage}),
        }
        return out

    return reply


def _x_throttle(retry_after: int) -> Reply:
    reset = int(time.time()) + retry_after
    headers = {
        "Retry-After": str(retry_after),
        "x-rate-limit-limit": "100",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(reset),
    }
    return x_problem(429, "Too Many Requests", "Too Many Requests", headers)


def _with_retry_after(reply: Reply, retry_after: int) -> Reply:
    reply.headers = {"Retry-After": str(retry_after)}
    return reply


def _li_throttle(retry_after: int) -> Reply:
    message = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached"
    return _with_retry_after(li_error(429, "TOO_MANY_REQUESTS", message), retry_after)


def _google_throttle(retry_after: int) -> Reply:
    out = google_error(429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits", "RESOURCE_EXHAUSTED")
    return _with_retry_after(out, retry_after)


def _tiktok_throttle(retry_after: int) -> Reply:
    message = "The API rate limit was exceeded. Please try again later."
    return _with_retry_after(tiktok_reply({}, 429, "rate_limit_exceeded", message), retry_after)


# -- profiles --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile(ErrorAnswers):
    """How one platform answers an unknown token, a server error and a throttle."""

    auth_error: Callable[[], Reply]


GRAPH_AUTH = "Invalid OAuth access token - Cannot parse access token"
PROFILES: dict[Channel, Profile] = {
    Platform.FACEBOOK: Profile(
        auth_error=lambda: graph_error(400, 190, GRAPH_AUTH),
        server_error=lambda: graph_error(500, 1, "An unknown error has occurred.", is_transient=True),
        rate_limited=_graph_throttle(32, "Page request limit reached"),
    ),
    Platform.INSTAGRAM: Profile(
        auth_error=lambda: graph_error(400, 190, GRAPH_AUTH),
        server_error=lambda: graph_error(
            500, 2, "An unexpected error has occurred. Please retry your request later.", is_transient=True
        ),
        rate_limited=_graph_throttle(80002, "There have been too many calls to this Instagram account."),
    ),
    Platform.TWITTER: Profile(
        auth_error=lambda: x_problem(401, "Unauthorized", "Unauthorized"),
        server_error=lambda: x_problem(500, "Internal Server Error", "Internal Server Error"),
        rate_limited=_x_throttle,
    ),
    Platform.LINKEDIN: Profile(
        auth_error=lambda: li_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600),
        server_error=lambda: li_error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error"),
        rate_limited=_li_throttle,
    ),
    Platform.YOUTUBE: Profile(
        auth_error=lambda: google_error(
            401, "authError", "Request had invalid authentication credentials.", state="UNAUTHENTICATED"
        ),
        server_error=lambda: google_error(500, "backendError", "Backend Error", state="INTERNAL"),
        rate_limited=_google_throttle,
    ),
    Platform.TIKTOK: Profile(
        auth_error=lambda: tiktok_reply(
            {}, 401, "access_token_invalid", "The access token is invalid or not found in the request."
        ),
        server_error=lambda: tiktok_reply(
            {}, 500, "internal_error", "Something went wrong. Please try again later."
        ),
        rate_limited=_tiktok_throttle,
    ),
    WHATSAPP: Profile(
        auth_error=lambda: graph_error(401, 190, GRAPH_AUTH),
        server_error=lambda: graph_error(
            500,
            131000,
            "(#131000) Something went wrong",
            error_data={"messaging_product": "whatsapp", "details": "Something went wrong"},
        ),
        rate_limited=_graph_throttle(130429, "(#130429) Rate limit hit"),
    ),
}


def publish(
    fake: FakePlatformServer, platform: Channel, account: str, key: str, apply: Callable[[], Outcome]
) -> Outcome:
    """Run one publishing call through the fault injector (`key`: what identifies the content, so a
    seeded run draws the same faults for the same post whatever the order of calls)."""
    fault = fake.store.draw_fault(platform, account, key)
    return with_fault(fake, fault, PROFILES[platform], fake.retry_after, apply)


def metric_read(
    fake: FakePlatformServer, platform: Channel, account: str, ids: list[str], apply: Callable[[], Outcome]
) -> Outcome:
    """Run one metric read through the fault injector, as a publish is (a `lost_response` read is
    answered, then dropped). Seeded runs draw by the ids read and how often they were read."""
    return publish(fake, platform, account, "metrics:" + ",".join(ids), apply)


def bearer_account(fake: FakePlatformServer, platform: Channel, req: Request) -> str | Reply:
    """The account the call's bearer token acts for, or the platform's auth error."""
    account = fake.store.account_for(platform, req.bearer)
    return PROFILES[platform].auth_error() if account is None else account
