"""send_notification: deliver a workflow's result by webhook or e-mail.

Webhook (``channel: "webhook"``, ``url``, ``payload`` object)
    POSTs the payload as JSON with ``Content-Type: application/json``, ``User-Agent: tidings/<version>``,
    ``Tidings-Event: workflow.notification`` and ``Tidings-Delivery: <workflowId>/<stepId>`` (the same on
    every retry, so a receiver can drop duplicates). The URL must be https and its host must resolve
    only to public addresses (every address ``getaddrinfo`` returns is checked); with the
    ``allow_private_links`` setting, http and private, loopback or link-local hosts are allowed (local
    development). Redirects are not followed. A 2xx answer is delivery; 408, 429, 5xx and transport
    failures are retryable; any other answer is permanent. The POST goes through the guarded client
    (`tidings.core.fetch`), which checks the address again as it connects and connects to that very
    address, so a DNS answer that changes after the first check (rebinding) reaches nothing.

E-mail (``channel: "email"``, ``to`` addresses, ``subject``, ``body`` plain text)
    Only to addresses the workflow's user confirmed (``POST /notification-addresses``; otherwise the
    step fails with ``recipient_unconfirmed``), within the user's hourly count
    (``notification_rate_limited``, retryable). Sent through Amazon SES v2 SendEmail from the
    ``notification_from_email`` setting (a verified SES identity); without it the step fails with
    ``email_not_configured``. Throttling and server errors
    are retryable; a rejected message, an unverified sender or a paused account are permanent.

Output: ``{"channel", "delivered": true, "status"?: int (webhook), "messageId"?: str (e-mail)}``.
"""

from __future__ import annotations

import json
from typing import Any

from tidings import __version__
from tidings.core.netguard import Resolver, outbound_url_problem, system_resolve, well_formed_host
from tidings.notifications.service import valid_email as valid_email  # the rule, for other modules
from tidings.workflows.action import ActionContext, ActionFailed, is_reference

CHANNELS = ("webhook", "email")
_PARAMS = {"webhook": ("channel", "url", "payload"), "email": ("channel", "to", "subject", "body")}
MAX_RECIPIENTS = 50  # SES: at most 50 recipients per message
MAX_SUBJECT = 500
MAX_BODY = 1_000_000
MAX_PAYLOAD_BYTES = 256 * 1024
_RETRYABLE_SES_ERRORS = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


class SendNotification:
    name = "send_notification"
    description = (
        "Deliver a result: `channel` webhook (`url` https, `payload` object, POSTed as JSON) or email "
        "(`to` addresses, `subject`, `body` text, sent through Amazon SES)."
    )

    def __init__(self, resolve: Resolver | None = None) -> None:
        self._resolve = resolve or system_resolve

    def check_params(self, params: dict[str, Any]) -> list[str]:
        channel = params.get("channel")
        if is_reference(channel):
            known = {k for keys in _PARAMS.values() for k in keys}
            return [f"unknown parameter {k!r}" for k in params if k not in known]
        if channel not in CHANNELS:
            return [f"channel must be one of {', '.join(CHANNELS)}"]
        problems = [f"unknown parameter {k!r} for {channel}" for k in params if k not in _PARAMS[channel]]
        if channel == "webhook":
            return problems + _webhook_problems(params)
        return problems + _email_problems(params)

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        problems = self.check_params(params)
        if problems:
            raise ActionFailed("; ".join(problems), code="invalid_parameters")
        if params["channel"] == "webhook":
            return self._webhook(ctx, str(params["url"]).strip(), params["payload"])
        return _email(ctx, params)

    def _webhook(self, ctx: ActionContext, url: str, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise ActionFailed("payload must be an object", code="invalid_parameters")
        allow_private = ctx.services.settings().allow_private_links
        refused = outbound_url_problem(url, allow_private=allow_private, resolve=self._resolve)
        if refused is not None:
            code, message = refused
            if code == "host_not_found":
                raise ActionFailed(message, retryable=True, code="webhook_unreachable")
            raise ActionFailed(message, code="invalid_parameters" if code == "invalid_url" else code)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        if len(body) > MAX_PAYLOAD_BYTES:
            raise ActionFailed(
                f"the payload is larger than {MAX_PAYLOAD_BYTES} bytes", code="invalid_parameters"
            )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"tidings/{__version__}",
            "Tidings-Event": "workflow.notification",
            "Tidings-Delivery": f"{ctx.workflow_id}/{ctx.step_id}",
        }
        status = _post(ctx, url, body, headers)
        return {"channel": "webhook", "delivered": True, "status": status}


def _post(ctx: ActionContext, url: str, body: bytes, headers: dict[str, str]) -> int:
    from tidings.core.fetch import FETCH_ERRORS, failure

    try:
        response = ctx.services.http().post(url, content=body, headers=headers, follow_redirects=False)
    except FETCH_ERRORS as exc:  # the same words whatever the OS said (tidings.core.fetch)
        reason, message = failure(exc)
        if reason == "url_refused":
            raise ActionFailed(f"the webhook URL is refused: {message}", code="url_refused") from None
        raise ActionFailed(
            f"the webhook could not be reached: {message}", retryable=True, code="webhook_unreachable"
        ) from None
    status = response.status_code
    if 200 <= status < 300:
        return status
    retryable = status in (408, 429) or status >= 500
    note = " (redirects are not followed)" if 300 <= status < 400 else ""
    raise ActionFailed(f"the webhook answered {status}{note}", retryable=retryable, code="webhook_failed")


def _webhook_problems(params: dict[str, Any]) -> list[str]:
    problems = []
    url = params.get("url")
    if url is None:
        problems.append("url is required for a webhook")
    elif not is_reference(url) and (not isinstance(url, str) or well_formed_host(url.strip()) is None):
        problems.append("url must be an http(s) URL")
    payload = params.get("payload")
    if payload is None:
        problems.append("payload is required for a webhook")
    elif not is_reference(payload) and not isinstance(payload, dict):
        problems.append("payload must be an object")
    return problems


def _email_problems(params: dict[str, Any]) -> list[str]:
    problems = []
    to = params.get("to")
    if to is None:
        problems.append("to is required for an email")
    elif not is_reference(to):
        if not isinstance(to, list) or not to:
            problems.append("to must be a non-empty list of e-mail addresses")
        elif len(to) > MAX_RECIPIENTS:
            problems.append(f"to has more than {MAX_RECIPIENTS} addresses")
        else:
            bad = [
                a for a in to if not is_reference(a) and not (isinstance(a, str) and valid_email(a.strip()))
            ]
            problems += [f"{a!r} is not a valid e-mail address" for a in bad]
    for name, limit in (("subject", MAX_SUBJECT), ("body", MAX_BODY)):
        value = params.get(name)
        if is_reference(value):
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{name} is required for an email")
        elif len(value) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    return problems


def _email(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Through the user's notification mail (`tidings.notifications`): every recipient must be an
    address the user confirmed, and the user's hourly count must allow it; then SES v2 SendEmail."""
    from botocore.exceptions import BotoCoreError, ClientError

    from tidings.notifications.links import MailNotConfigured
    from tidings.notifications.service import NotificationRateLimited, RecipientUnconfirmed

    if ctx.services.notifications is None:
        raise ActionFailed("e-mail is not configured", code="email_not_configured")
    to = [str(a).strip() for a in params["to"]]
    subject = " ".join(str(params["subject"]).split())  # one line: no header folding or injection
    try:
        message_id = ctx.services.notifications().send(ctx.user_id, to, subject, str(params["body"]))
    except RecipientUnconfirmed as exc:
        raise ActionFailed(exc.message, code=exc.code) from None
    except NotificationRateLimited as exc:
        raise ActionFailed(exc.message, retryable=True, code=exc.code) from None
    except MailNotConfigured as exc:
        raise ActionFailed(exc.message, code="email_not_configured") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        retryable = code in _RETRYABLE_SES_ERRORS or (isinstance(status, int) and status >= 500)
        raise ActionFailed(
            f"SES {code or 'error'}: {error.get('Message') or exc}", retryable=retryable, code="email_failed"
        ) from None
    except BotoCoreError as exc:
        raise ActionFailed(
            f"SES could not be reached: {exc}", retryable=True, code="email_unreachable"
        ) from None
    return {"channel": "email", "delivered": True, "messageId": message_id}


def email_recipients(params: dict[str, Any]) -> list[str]:
    """The literal addresses an e-mail step's `to` names (references are resolved only at run time)."""
    if params.get("channel") != "email" or not isinstance(params.get("to"), list):
        return []
    return [a.strip() for a in params["to"] if isinstance(a, str) and not is_reference(a)]


ACTION = SendNotification()
