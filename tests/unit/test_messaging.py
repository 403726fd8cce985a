"""WhatsApp messages to a contact (`MessagingService.send_whatsapp`), with the user's number in the
in-memory account repository and a fake Cloud API that keeps the 24-hour customer service window and
the approved templates: what reaches the contact, and what the caller is told when nothing does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tidings.core.clock import FakeClock
from tidings.core.errors import (
    Conflict,
    NotFound,
    TidingsError,
    TooManyRequests,
    UpstreamFailed,
    ValidationFailed,
)
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.models.accounts import AccountCredentials
from tidings.publishing.clients.whatsapp import SentMessage
from tidings.publishing.messaging import MessageSent, MessagingService, Template
from tidings.store.memory.accounts import InMemoryAccountRepository

NOW = datetime(2026, 9, 14, 10, 0, tzinfo=UTC)
USER = "agent-7"
NUMBER_ID = "106540352242922"
REPLIED = "15550100199"  # wrote to the business within the last 24 hours
SILENT = "15550100777"  # has not
REMINDER = Template(
    "showing_reminder", "en_US", [{"type": "body", "parameters": [{"type": "text", "text": "4pm"}]}]
)


@dataclass
class CloudApi:
    """The contact's side of WhatsApp: who may get free-form text, which templates are approved, and
    what reached whom. `fail_next` makes the next call fail as given (after it was applied, when
    `applied` says so)."""

    window_open: set[str] = field(default_factory=lambda: {REPLIED})
    approved: set[tuple[str, str]] = field(default_factory=lambda: {("showing_reminder", "en_US")})
    received: list[tuple[str, str, Any]] = field(default_factory=list)  # (to, kind, content)
    calls: int = 0
    fail_next: PlatformCallError | None = None
    applied: bool = False

    def send_text(
        self, account: AccountCredentials, to: str, text: str, *, preview_url: bool = False
    ) -> SentMessage:
        self._call(account)
        if to not in self.window_open:
            raise PlatformCallError(
                ErrorKind.PERMANENT, "outside_customer_service_window", "send an approved template instead"
            )
        return self._deliver(to, "text", text)

    def send_template(
        self,
        account: AccountCredentials,
        to: str,
        name: str,
        language: str,
        components: list[dict[str, Any]] | None = None,
    ) -> SentMessage:
        self._call(account)
        if (name, language) not in self.approved:
            raise PlatformCallError(
                ErrorKind.PERMANENT, "invalid_template", f"{name} is not approved in {language}"
            )
        return self._deliver(to, "template", (name, language, components))

    def _call(self, account: AccountCredentials) -> None:
        assert (account.platform, account.account_id) == ("whatsapp", NUMBER_ID)
        self.calls += 1
        failure, self.fail_next = self.fail_next, None
        if failure is not None:
            raise failure

    def _deliver(self, to: str, kind: str, content: Any) -> SentMessage:
        self.received.append((to, kind, content))
        return SentMessage(f"wamid.{len(self.received)}", to, NOW)


@pytest.fixture
def api() -> CloudApi:
    return CloudApi()


@pytest.fixture
def accounts() -> InMemoryAccountRepository:
    repo = InMemoryAccountRepository(clock=FakeClock(NOW))
    repo.connect(USER, "whatsapp", NUMBER_ID, "EAAG-whatsapp-system-user-token")
    return repo


@pytest.fixture
def messaging(accounts: InMemoryAccountRepository, api: CloudApi) -> MessagingService:
    return MessagingService(accounts, lambda: api)


def test_text_reaches_a_contact_inside_the_window(messaging: MessagingService, api: CloudApi) -> None:
    sent = messaging.send_whatsapp(USER, REPLIED, "See you at 4pm at 12 Elm St.", REMINDER)

    assert sent == MessageSent("wamid.1", REPLIED, "text", False)
    assert api.received == [(REPLIED, "text", "See you at 4pm at 12 Elm St.")]


def test_outside_the_window_the_template_goes_instead_of_the_text(
    messaging: MessagingService, api: CloudApi
) -> None:
    sent = messaging.send_whatsapp(USER, SILENT, "See you at 4pm at 12 Elm St.", REMINDER)

    assert sent == MessageSent("wamid.1", SILENT, "template", True)
    assert api.received == [(SILENT, "template", ("showing_reminder", "en_US", REMINDER.components))]


def test_outside_the_window_without_a_template_nothing_is_sent_and_the_caller_is_told(
    messaging: MessagingService, api: CloudApi
) -> None:
    with pytest.raises(Conflict) as refused:
        messaging.send_whatsapp(USER, SILENT, "See you at 4pm", None)

    assert (refused.value.status, refused.value.code) == (409, "outside_customer_service_window")
    assert refused.value.details["platform"] == "whatsapp"
    assert api.received == []


def test_a_template_alone_is_sent_as_a_template(messaging: MessagingService, api: CloudApi) -> None:
    sent = messaging.send_whatsapp(USER, REPLIED, None, REMINDER)
    assert sent == MessageSent("wamid.1", REPLIED, "template", False)
    assert [kind for _, kind, _ in api.received] == ["template"]


def test_a_message_needs_text_or_a_template(messaging: MessagingService, api: CloudApi) -> None:
    with pytest.raises(ValidationFailed) as refused:
        messaging.send_whatsapp(USER, REPLIED, None, None)
    assert refused.value.code == "empty_message"
    assert api.calls == 0


def test_without_a_connected_number_nothing_is_sent(messaging: MessagingService, api: CloudApi) -> None:
    with pytest.raises(NotFound) as missing:
        messaging.send_whatsapp("agent-without-whatsapp", REPLIED, "Hello", None)
    assert (missing.value.status, missing.value.code) == (404, "account_not_connected")
    assert api.calls == 0


def test_a_disconnected_number_is_no_longer_used(
    messaging: MessagingService, accounts: InMemoryAccountRepository, api: CloudApi
) -> None:
    accounts.disconnect(USER, "whatsapp")
    with pytest.raises(NotFound):
        messaging.send_whatsapp(USER, REPLIED, "Hello", None)
    assert api.calls == 0


def test_an_unknown_outcome_is_reported_and_never_sent_again(
    messaging: MessagingService, api: CloudApi
) -> None:
    api.fail_next = PlatformCallError(
        ErrorKind.UNKNOWN_OUTCOME, "connection_dropped", "the connection dropped"
    )

    with pytest.raises(UpstreamFailed) as unknown:
        messaging.send_whatsapp(USER, SILENT, "See you at 4pm", REMINDER)

    assert (unknown.value.status, unknown.value.code) == (502, "outcome_unknown")
    assert "not sent again" in unknown.value.message
    assert api.calls == 1  # neither the text again nor the template


@pytest.mark.parametrize(
    ("failure", "error", "status", "code"),
    [
        (
            PlatformCallError(ErrorKind.RATE_LIMITED, "130429", "throughput reached", retry_after=60.0),
            TooManyRequests,
            429,
            "rate_limited",
        ),
        (
            PlatformCallError(ErrorKind.AUTH_EXPIRED, "190", "token expired"),
            Conflict,
            409,
            "account_auth_expired",
        ),
        (
            PlatformCallError(ErrorKind.PERMANENT, "invalid_recipient", "not a number"),
            ValidationFailed,
            422,
            "invalid_recipient",
        ),
        (
            PlatformCallError(ErrorKind.PERMANENT, "131026", "undeliverable"),
            ValidationFailed,
            422,
            "platform_refused",
        ),
        (
            PlatformCallError(ErrorKind.RETRYABLE, "131000", "something went wrong"),
            UpstreamFailed,
            502,
            "platform_unavailable",
        ),
    ],
)
def test_each_failure_is_told_with_its_own_status_and_code(
    messaging: MessagingService,
    api: CloudApi,
    failure: PlatformCallError,
    error: type[TidingsError],
    status: int,
    code: str,
) -> None:
    api.fail_next = failure

    with pytest.raises(error) as told:
        messaging.send_whatsapp(USER, REPLIED, "Hello", None)

    assert (told.value.status, told.value.code) == (status, code)
    assert told.value.details["platformCode"] == failure.code
    assert api.received == []


def test_a_throttle_says_when_to_try_again(messaging: MessagingService, api: CloudApi) -> None:
    api.fail_next = PlatformCallError(ErrorKind.RATE_LIMITED, "131056", "pair rate limit", retry_after=60.0)
    with pytest.raises(TooManyRequests) as throttled:
        messaging.send_whatsapp(USER, REPLIED, "Hello", None)
    assert throttled.value.details["retryAfterSeconds"] == 60.0


def test_a_template_that_is_not_approved_is_refused(messaging: MessagingService, api: CloudApi) -> None:
    with pytest.raises(ValidationFailed) as refused:
        messaging.send_whatsapp(USER, SILENT, "Hello", Template("open_house", "de_DE"))
    assert refused.value.code == "invalid_template"
    assert api.received == []


class ExpiredCredentials:
    """Credentials whose renewal failed: the account's token expired and could not be renewed."""

    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None:
        raise PlatformCallError(ErrorKind.AUTH_EXPIRED, "token_expired", "reconnect WhatsApp")


def test_a_token_that_could_not_be_renewed_sends_nothing(api: CloudApi) -> None:
    messaging = MessagingService(ExpiredCredentials(), lambda: api)
    with pytest.raises(Conflict) as refused:
        messaging.send_whatsapp(USER, REPLIED, "Hello", None)
    assert refused.value.code == "account_auth_expired"
    assert api.calls == 0
