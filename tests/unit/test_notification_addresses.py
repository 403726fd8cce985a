"""Notification addresses through the API: adding one mails a confirmation link and nothing else; the
link's GET changes nothing, its POST confirms; only confirmed addresses receive workflow notifications,
within the user's hourly count; a workflow naming another address is refused when it is created."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import pytest
from api_events import call

from tidings.api.app import build_app, handle
from tidings.core.clock import FakeClock
from tidings.core.errors import ValidationFailed
from tidings.notifications.links import ConfirmationLinks
from tidings.notifications.service import (
    CONFIRM_SUBJECT,
    NotificationAddresses,
    NotificationMail,
    RecipientUnconfirmed,
)
from tidings.store.memory.notification_addresses import InMemoryNotificationAddressRepository

NOW = datetime(2027, 4, 2, 15, 30, tzinfo=UTC)
USER = "agent-7"
SECRET = "unit-test-notification-secret-0123456789abcdef"
LINK = re.compile(r"https://api\.example\.com(/notification-addresses/confirm/[A-Za-z0-9_-]+)")


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], str, str]] = []

    def send_text(self, sender: str, to: Any, subject: str, body: str) -> str:
        self.sent.append((sender, list(to), subject, body))
        return f"m-{len(self.sent)}"


def _no_scheduling() -> NoReturn:
    raise AssertionError("these routes need no scheduling service")


class Api:
    def __init__(self, limit: int = 3, per_hour: int = 30) -> None:
        self.clock = FakeClock(NOW)
        self.outbox = Outbox()
        self.repo = InMemoryNotificationAddressRepository()
        self.mail = NotificationMail(self.repo, self.outbox, "alerts@tidings.example", self.clock, per_hour)
        links = ConfirmationLinks(SECRET, "https://api.example.com", timedelta(hours=72))
        self.service = NotificationAddresses(self.repo, self.mail, links, self.clock, limit)
        self.app = build_app(_no_scheduling, notification_addresses=lambda: self.service)

    def __call__(self, method: str, path: str, body: Any = None, user: str = USER) -> tuple[int, Any]:
        return call(self.app, method, path, body=None if body is None else json.dumps(body), user=user)

    def link(self, to: str) -> str:
        """The path of the last confirmation link mailed to `to`."""
        bodies = [body for _, rcpt, _, body in self.outbox.sent if rcpt == [to]]
        found = LINK.search(bodies[-1])
        assert found is not None
        return found.group(1)

    def public(self, method: str, path: str, accept: str = "text/html") -> dict[str, Any]:
        """The link's request as API Gateway passes a route without an authorizer: no claims."""
        token = path.rsplit("/", 1)[1]
        route = f"{method} /notification-addresses/confirm/{{token}}"
        event = {
            "version": "2.0",
            "routeKey": route,
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"accept": accept},
            "requestContext": {
                "http": {"method": method, "path": path, "sourceIp": "198.51.100.7"},
                "requestId": "r1",
                "routeKey": route,
                "stage": "$default",
            },
            "pathParameters": {"token": token},
            "isBase64Encoded": False,
        }
        return handle(self.app, event, None)


@pytest.fixture
def api() -> Api:
    return Api()


def test_an_address_is_confirmed_only_by_the_links_post_never_by_following_it(api: Api) -> None:
    status, added = api("POST", "/notification-addresses", {"email": "Ops@Harbour.example"})
    assert (status, added["status"], added["confirmationSent"]) == (202, "pending", True)
    ((sender, to, subject, body),) = api.outbox.sent
    assert (sender, to, subject) == ("alerts@tidings.example", ["ops@harbour.example"], CONFIRM_SUBJECT)
    assert "72 hours" in body
    link = api.link("ops@harbour.example")

    page = api.public("GET", link)  # a mail scanner fetching every link
    assert page["statusCode"] == 200
    assert '<form method="post">' in page["body"]
    assert api("GET", "/notification-addresses")[1]["addresses"][0]["status"] == "pending"

    confirmed = api.public("POST", link, accept="application/json")
    assert (confirmed["statusCode"], json.loads(confirmed["body"])) == (
        200,
        {"confirmed": True, "email": "ops@harbour.example"},
    )
    listed = api("GET", "/notification-addresses")[1]
    assert [(a["email"], a["status"]) for a in listed["addresses"]] == [("ops@harbour.example", "confirmed")]
    assert api("POST", "/notification-addresses", {"email": "ops@harbour.example"})[0] == 200
    assert len(api.outbox.sent) == 1  # a confirmed address gets no second link


def test_a_link_that_was_changed_expired_or_whose_address_was_deleted_confirms_nothing(api: Api) -> None:
    api("POST", "/notification-addresses", {"email": "ops@harbour.example"})
    link = api.link("ops@harbour.example")
    changed = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    assert api.public("POST", changed, accept="application/json")["statusCode"] == 404

    api.clock.advance(timedelta(hours=72))
    expired = api.public("POST", link, accept="application/json")
    assert (expired["statusCode"], json.loads(expired["body"])["code"]) == (410, "confirmation_link_expired")

    api.clock.set(NOW)
    assert api("DELETE", "/notification-addresses/ops%40harbour.example")[0] == 200
    assert api.public("POST", link, accept="application/json")["statusCode"] == 404
    assert api("DELETE", "/notification-addresses/ops@harbour.example")[1]["code"] == (
        "notification_address_not_found"
    )


def test_another_users_link_names_its_own_user_only(api: Api) -> None:
    api("POST", "/notification-addresses", {"email": "ops@harbour.example"}, user="someone-else")
    link = api.link("ops@harbour.example")
    api.public("POST", link)
    assert api("GET", "/notification-addresses")[1]["addresses"] == []
    assert api.mail.unconfirmed(USER, ["ops@harbour.example"]) == ["ops@harbour.example"]


def test_deleting_a_blank_address_is_not_found_without_asking_the_store(api: Api) -> None:
    def refuse(user_id: str, email: str) -> None:
        raise AssertionError(f"the store was asked to remove {email!r}")  # DynamoDB: an empty name

    api.repo.remove = refuse  # type: ignore[assignment,method-assign]
    for path in ("/notification-addresses/%C2%A0", "/notification-addresses/%20%20"):
        status, error = api("DELETE", path)
        assert (status, error["code"]) == (404, "notification_address_not_found"), path


def test_a_user_keeps_a_limited_number_of_addresses_and_bad_ones_are_refused(api: Api) -> None:
    for n in range(3):
        assert api("POST", "/notification-addresses", {"email": f"a{n}@harbour.example"})[0] == 202
    status, error = api("POST", "/notification-addresses", {"email": "a3@harbour.example"})
    assert (status, error["code"], error["details"]["limit"]) == (409, "notification_addresses_full", 3)
    assert api("POST", "/notification-addresses", {"email": "not-an-address"})[1]["code"] == "invalid_email"


def test_confirmation_mails_count_towards_the_hourly_limit() -> None:
    api = Api(limit=10, per_hour=2)
    api("POST", "/notification-addresses", {"email": "a@harbour.example"})
    api("POST", "/notification-addresses", {"email": "a@harbour.example"})  # a new link: counted too
    status, error = api("POST", "/notification-addresses", {"email": "b@harbour.example"})
    assert (status, error["code"]) == (429, "notification_rate_limited")
    assert 0 < error["details"]["retryAfterSeconds"] <= 3600
    assert len(api.outbox.sent) == 2


def test_mail_goes_only_to_confirmed_addresses(api: Api) -> None:
    api("POST", "/notification-addresses", {"email": "ops@harbour.example"})
    api.public("POST", api.link("ops@harbour.example"))

    api.mail.send(USER, ["OPS@harbour.example"], "Report", "All good.")
    assert api.outbox.sent[-1][1:3] == (["ops@harbour.example"], "Report")
    with pytest.raises(RecipientUnconfirmed) as refused:
        api.mail.send(USER, ["ops@harbour.example", "list@elsewhere.example"], "Spam", "...")
    assert refused.value.details == {"addresses": ["list@elsewhere.example"]}
    assert len(api.outbox.sent) == 2


def test_a_workflow_naming_an_address_not_confirmed_is_refused_naming_it(api: Api) -> None:
    from tidings.workflows.actions import registry
    from tidings.workflows.gates import check_gate_definition
    from tidings.workflows.service import WorkflowService

    api("POST", "/notification-addresses", {"email": "ops@harbour.example"})
    api.public("POST", api.link("ops@harbour.example"))
    workflows = WorkflowService(
        None,  # type: ignore[arg-type]  # refused before anything is stored
        None,  # type: ignore[arg-type]
        registry,
        check_gate_definition,
        api.clock,
        quota=10,
        unconfirmed=api.mail.unconfirmed,
    )
    step = {
        "id": "mail",
        "action": "send_notification",
        "parameters": {
            "channel": "email",
            "to": ["ops@harbour.example", "list@elsewhere.example"],
            "subject": "s",
            "body": "b",
        },
    }
    with pytest.raises(ValidationFailed) as refused:
        workflows.create(USER, template_name=None, definition={"name": "n", "steps": [step]}, parameters={})
    assert refused.value.code == "invalid_definition"
    (problem,) = refused.value.details["problems"]
    assert (problem["step"], problem["code"], problem["addresses"]) == (
        "mail",
        "recipient_unconfirmed",
        ["list@elsewhere.example"],
    )
