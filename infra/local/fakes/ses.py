"""The local SES front: the stack's SES v2 client talks to it, and it forwards to moto's SES.

Why a front: moto stores what it is sent but cannot show it to a person, cannot answer GetAccount, and
never fails. The front keeps moto as the SES that accepts or refuses each message (an unverified
sender is `MessageRejected`, a malformed address `InvalidParameterValue`), and adds what a local run
needs:

- **What went out.** Every message moto accepted is recorded, its raw MIME parsed: `GET /_emails`
  (`?to=` filters by recipient) lists `messageId`, `to`, `from`, `subject`, `text`, `html`, `headers`,
  `sentAt` (UTC), `configurationSet` and `tags`, in the order sent; `DELETE /_emails` forgets them.
- **The quota.** `GET /v2/email/account` (SES v2 GetAccount) answers the front's quota: `MaxSendRate`
  (default 14 a second, what SES commonly grants an account when it leaves the sandbox),
  `Max24HourSend` (default 50,000) and `SentLast24Hours`. `GET`/`POST /_quota`
  (`{maxSendRate, max24HourSend}`) read and change it. Like SES, the front refuses a send over the
  quota: more than MaxSendRate in a second (a bucket of MaxSendRate tokens refilled at that rate) or
  over Max24HourSend in 24 hours is a 429 `TooManyRequestsException` ("Maximum sending rate
  exceeded" / "Daily message quota exceeded"), and nothing is sent (SES Developer Guide, "Errors
  related to the sending quotas for your Amazon SES account"; SES API v2 Reference, SendEmail errors).
- **Faults on demand**, for SendEmail only: `POST /_faults` `{kind, count?, rate?, to?}` (the next
  `count` sends, or each with probability `rate`; only to the address `to` when given), `GET /_faults`,
  `DELETE /_faults`. Kinds, each what a real failure of that sort does:
  - `throttle`: 429 `TooManyRequestsException`; nothing is sent.
  - `reject`: 400 `MessageRejected`; nothing is sent.
  - `error500`: 500 `InternalFailure`; nothing is sent, though the client cannot know it.
  - `timeout`: the connection is dropped before the message is forwarded: nothing is sent, and the
    client sees an answer that never came. From the client's side this is the same as `lost_response`.
  - `lost_response`: the message is forwarded, moto accepts it (it is recorded: it went out), and the
    connection is dropped instead of the answer.
  `tidings dev --sandbox-faults ses:rate_limit:0.2,ses:timeout:0.05,ses:lost_response:0.05` sets rates
  at start-up (`rate_limit` is `throttle`).
- **Send events.** With `on_event`, each message sent through a configuration set is published as
  that set's EventBridge event destination publishes it: an `aws.ses` event of detail-type
  `Email Sent` whose detail is the `Send` record, with `mail.messageId`, `destination` and `tags`
  (each email tag as a list, beside `ses:configuration-set`: SES Developer Guide, "Contents of event
  data that Amazon SES publishes"). Like EventBridge it delivers asynchronously (a few threads), and
  a delivery that fails is tried twice more, a second apart. A `lost_response` message was taken, so
  its event goes out too: what tells its sender, whose answer was lost, that SES has it. SES's later
  events (delivery, bounce, open...) are not played.

Every other request (identities, configuration sets) is forwarded to moto as it came.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import logging
import queue
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from infra.local.fakes.base import DROP, LocalHttpServer, Outcome, Reply, Request, take_fault_items
from infra.local.lambda_host import DEFAULT_ACCOUNT, DEFAULT_REGION

log = logging.getLogger(__name__)

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"
DEFAULT_MAX_SEND_RATE = 14.0
DEFAULT_MAX_24_HOUR_SEND = 50_000.0
DAY_SECONDS = 86_400.0
EVENT_PUBLISHERS = 4  # threads delivering Send events, as EventBridge invokes a function side by side
EVENT_ATTEMPTS = 3  # EventBridge tries a failed asynchronous invocation twice more
FAULT_KINDS = ("throttle", "reject", "error500", "timeout", "lost_response")
# `--sandbox-faults` kind names (shared with the fake platforms and CRMs) -> the front's.
SPEC_KINDS = {
    "rate_limit": "throttle",
    "error500": "error500",
    "timeout": "timeout",
    "lost_response": "lost_response",
}
_FORWARDED_HEADERS = ("Content-Type", "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "User-Agent")


def split_ses_faults(spec: str) -> tuple[str, list[tuple[str, float]]]:
    """A `--sandbox-faults` spec without its `ses:` items, and those items as (front kind, rate).
    ValueError names a malformed `ses:` item."""
    rest, taken = take_fault_items(spec, ("ses",), tuple(SPEC_KINDS))
    return rest, [(SPEC_KINDS[kind], rate) for _, kind, rate in taken]


def ses_error(status: int, code: str, message: str) -> Reply:
    """An SES v2 error as the REST-JSON protocol carries it: the code in `x-amzn-ErrorType`."""
    return Reply(status, {"message": message}, {"x-amzn-ErrorType": code})


@dataclass
class SesFault:
    kind: str
    count: int | None = None  # the next `count` sends; None: by rate
    rate: float = 1.0
    to: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "rate": self.rate, "to": self.to}


@dataclass
class SentEmail:
    message_id: str
    to: list[str]
    sender: str
    subject: str
    text: str | None
    html: str | None
    headers: dict[str, str]
    sent_at: float
    configuration_set: str | None
    tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "to": self.to,
            "from": self.sender,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "headers": self.headers,
            "sentAt": datetime.fromtimestamp(self.sent_at, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "configurationSet": self.configuration_set,
            "tags": self.tags,
        }


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body((subtype,))
    if body is None or body.get_content_type() != f"text/{subtype}":
        return None
    return str(body.get_content()).replace("\r\n", "\n")


def parse_sent(request: dict[str, Any], message_id: str, at: float) -> SentEmail:
    """What a SendEmail request sent: a raw MIME message parsed, or simple content as given."""
    destination = request.get("Destination") or {}
    to = [
        str(a) for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destination.get(key) or []
    ]
    content = request.get("Content") or {}
    tags = {str(t.get("Name")): str(t.get("Value")) for t in request.get("EmailTags") or []}
    configuration_set = request.get("ConfigurationSetName")
    if "Raw" in content:
        raw = base64.b64decode(content["Raw"]["Data"])
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        headers = {name: str(value).strip() for name, value in message.items()}
        return SentEmail(
            message_id=message_id,
            to=to or [str(message["To"])],
            sender=str(request.get("FromEmailAddress") or message["From"]),
            subject=str(message["Subject"] or ""),
            text=_part(message, "plain"),
            html=_part(message, "html"),
            headers=headers,
            sent_at=at,
            configuration_set=configuration_set,
            tags=tags,
        )
    simple = content.get("Simple") or {}
    body = simple.get("Body") or {}
    return SentEmail(
        message_id=message_id,
        to=to,
        sender=str(request.get("FromEmailAddress") or ""),
        subject=str((simple.get("Subject") or {}).get("Data", "")),
        text=(body.get("Text") or {}).get("Data"),
        html=(body.get("Html") or {}).get("Data"),
        headers={str(h.get("Name")): str(h.get("Value")) for h in simple.get("Headers") or []},
        sent_at=at,
        configuration_set=configuration_set,
        tags=tags,
    )


def send_event(email: SentEmail) -> dict[str, Any]:
    """The `Send` event of a message, as SES publishes it to EventBridge."""
    at = datetime.fromtimestamp(email.sent_at, UTC)
    tags = {name: [value] for name, value in email.tags.items()}
    tags["ses:configuration-set"] = [str(email.configuration_set)]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Email Sent",
        "source": "aws.ses",
        "account": DEFAULT_ACCOUNT,
        "time": at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "region": DEFAULT_REGION,
        "resources": [
            f"arn:aws:ses:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:configuration-set/{email.configuration_set}"
        ],
        "detail": {
            "eventType": "Send",
            "mail": {
                "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "source": email.sender,
                "messageId": email.message_id,
                "destination": list(email.to),
                "headersTruncated": False,
                "tags": tags,
            },
            "send": {},
        },
    }


class SesFront(LocalHttpServer):
    name = "local SES"
    thread_name = "local-ses"
    software = "tidings-local-ses"
    max_body_bytes = 40 * 1024 * 1024  # SES v2 takes messages up to 40 MB

    def __init__(
        self,
        moto_url: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_send_rate: float = DEFAULT_MAX_SEND_RATE,
        max_24_hour_send: float = DEFAULT_MAX_24_HOUR_SEND,
        seed: int | None = None,
        clock: Any = time.time,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(host, port)
        self._on_event = on_event
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        if on_event is not None:
            for i in range(EVENT_PUBLISHERS):
                threading.Thread(target=self._publish, name=f"local-ses-events-{i}", daemon=True).start()
        parts = urlsplit(moto_url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"moto's URL needs a host and a port: {moto_url!r}")
        self._moto = (parts.hostname, parts.port)
        self.max_send_rate = max_send_rate
        self.max_24_hour_send = max_24_hour_send
        self._clock = clock
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.emails: list[SentEmail] = []
        self.faults: list[SesFault] = []
        self._accepted: deque[float] = deque()  # times of accepted sends over the last 24 hours
        self._tokens = max_send_rate
        self._refilled = clock()

    # -- control ---------------------------------------------------------------------------------

    def add_fault(
        self, kind: str, *, count: int | None = None, rate: float = 1.0, to: str | None = None
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown SES fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within 0..1")
        with self._lock:
            self.faults.append(SesFault(kind, count, rate, to.lower() if to else None))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            emails = list(self.emails)
        wanted = to.lower() if to else None
        return [e.to_json() for e in emails if wanted is None or wanted in (a.lower() for a in e.to)]

    # -- routes ----------------------------------------------------------------------------------

    def respond(self, request: Request) -> Outcome:
        path = request.path.rstrip("/")
        if path == "/_emails":
            return self._emails(request)
        if path == "/_faults":
            return self._faults(request)
        if path == "/_quota":
            return self._quota(request)
        if path == ACCOUNT_PATH and request.method == "GET":
            return Reply(200, self._account())
        if path == SEND_PATH and request.method == "POST":
            return self._send(request)
        return self._forward(request)

    def _emails(self, request: Request) -> Reply:
        if request.method == "DELETE":
            with self._lock:
                self.emails.clear()
            return Reply(200, {"emails": []})
        if request.method != "GET":
            return Reply(405, {"message": "GET or DELETE"})
        return Reply(200, {"emails": self.sent(request.query.get("to"))})

    def _faults(self, request: Request) -> Reply:
        if request.method == "DELETE":
            self.clear_faults()
        elif request.method == "POST":
            body = request.json()
            if not isinstance(body, dict):
                return Reply(400, {"message": "a JSON object: {kind, count?, rate?, to?}"})
            count = body.get("count")
            rate = body.get("rate", 1.0)
            to = body.get("to")
            valid = (count is None or (isinstance(count, int) and not isinstance(count, bool))) and (
                isinstance(rate, int | float) and not isinstance(rate, bool)
            )
            if not valid or (to is not None and not isinstance(to, str)):
                return Reply(400, {"message": "count is a whole number, rate a number, to an address"})
            try:
                self.add_fault(str(body.get("kind")), count=count, rate=float(rate), to=to)
            except ValueError as exc:
                return Reply(400, {"message": str(exc)})
        elif request.method != "GET":
            return Reply(405, {"message": "GET, POST or DELETE"})
        with self._lock:
            return Reply(200, {"faults": [f.to_json() for f in self.faults]})

    def _quota(self, request: Request) -> Reply:
        if request.method == "POST":
            body = request.json_object()
            rate = body.get("maxSendRate", self.max_send_rate)
            daily = body.get("max24HourSend", self.max_24_hour_send)
            numbers = all(
                isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in (rate, daily)
            )
            if not numbers:
                return Reply(400, {"message": "maxSendRate and max24HourSend are numbers above 0"})
            with self._lock:
                self.max_send_rate, self.max_24_hour_send = float(rate), float(daily)
                self._tokens = min(self._tokens, self.max_send_rate)
        elif request.method != "GET":
            return Reply(405, {"message": "GET or POST"})
        return Reply(200, {"maxSendRate": self.max_send_rate, "max24HourSend": self.max_24_hour_send})

    def _account(self) -> dict[str, Any]:
        """GetAccount's answer (SES API v2 Reference, GetAccount response elements)."""
        with self._lock:
            self._forget_old(self._clock())
            sent = float(len(self._accepted))
        return {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "HEALTHY",
            "ProductionAccessEnabled": True,
            "SendingEnabled": True,
            "SendQuota": {
                "Max24HourSend": self.max_24_hour_send,
                "MaxSendRate": self.max_send_rate,
                "SentLast24Hours": sent,
            },
        }

    # -- SendEmail -------------------------------------------------------------------------------

    def _fault_for(self, to: list[str]) -> str | None:
        with self._lock:
            for fault in self.faults:
                if fault.to is not None and fault.to not in (a.lower() for a in to):
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault.kind
                if self._random.random() < fault.rate:
                    return fault.kind
        return None

    def _forget_old(self, now: float) -> None:
        while self._accepted and self._accepted[0] <= now - DAY_SECONDS:
            self._accepted.popleft()

    def _take_quota(self) -> str | None:
        """Take a send from the quota; what is exceeded when it cannot."""
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            if len(self._accepted) >= self.max_24_hour_send:
                return "Daily message quota exceeded."
            self._tokens = min(self.max_send_rate, self._tokens + (now - self._refilled) * self.max_send_rate)
            self._refilled = now
            if self._tokens < 1.0:
                return "Maximum sending rate exceeded."
            self._tokens -= 1.0
        return None

    def _settle_quota(self, accepted: bool) -> None:
        with self._lock:
            if accepted:
                self._accepted.append(self._clock())
            else:  # refused: it costs nothing
                self._tokens = min(self.max_send_rate, self._tokens + 1.0)

    def _send(self, request: Request) -> Outcome:
        body = request.json()
        if not isinstance(body, dict):
            return ses_error(400, "BadRequestException", "the request body is not a JSON object")
        destination = body.get("Destination") or {}
        to = [
            str(a)
            for key in ("ToAddresses", "CcAddresses", "BccAddresses")
            for a in destination.get(key) or []
        ]
        fault = self._fault_for(to)
        if fault == "throttle":
            return ses_error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
        if fault == "reject":
            return ses_error(400, "MessageRejected", "Email address is not verified.")
        if fault == "error500":
            return ses_error(500, "InternalFailure", "The request processing has failed.")
        if fault == "timeout":
            return DROP
        exceeded = self._take_quota()
        if exceeded is not None:
            return ses_error(429, "TooManyRequestsException", exceeded)
        status, headers, payload = self._moto_call(request)
        self._settle_quota(status == 200)
        if status == 200:
            try:
                message_id = str(json.loads(payload)["MessageId"])
                email = parse_sent(body, message_id, self._clock())
            except (ValueError, KeyError, binascii.Error) as exc:
                return ses_error(500, "InternalFailure", f"could not read the message: {exc}")
            with self._lock:
                self.emails.append(email)
            if self._on_event is not None and email.configuration_set:
                self._events.put(send_event(email))
            if fault == "lost_response":
                return DROP
        return self._reply(status, headers, payload)

    # -- events ----------------------------------------------------------------------------------

    def _publish(self) -> None:
        assert self._on_event is not None
        while True:
            event = self._events.get()
            for attempt in range(EVENT_ATTEMPTS):
                try:
                    self._on_event(event)
                    break
                except Exception as exc:  # the function failed: tried again, as EventBridge does
                    log.warning("SES event %s not delivered (%s)", event["id"], exc)
                    if attempt + 1 < EVENT_ATTEMPTS:
                        time.sleep(1.0)

    # -- moto ------------------------------------------------------------------------------------

    def _moto_call(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        host, port = self._moto
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            headers = {
                name: request.headers[name] for name in _FORWARDED_HEADERS if request.headers.get(name)
            }
            headers["Host"] = f"{host}:{port}"
            connection.request(request.method, request.target, body=request.body or None, headers=headers)
            resp = connection.getresponse()
            payload = resp.read()
            kept = {name.lower(): value for name, value in resp.getheaders()}
            return resp.status, kept, payload
        finally:
            connection.close()

    @staticmethod
    def _reply(status: int, headers: dict[str, str], payload: bytes) -> Reply:
        passed: dict[str, str] = {
            name: headers[name] for name in ("x-amzn-errortype", "x-amzn-requestid") if name in headers
        }
        return Reply(status, payload, passed, content_type=headers.get("content-type"))

    def _forward(self, request: Request) -> Reply:
        return self._reply(*self._moto_call(request))
