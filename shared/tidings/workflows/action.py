"""What every workflow action is: a name, a check of its parameters when a definition is created,
and a run that turns resolved parameters into an output (a JSON object).

An action signals how it ended by returning its output, or raising:
- `ActionFailed(message, retryable=...)`: retryable failures follow the step's retry policy;
  permanent ones fail the step at once;
- `ActionWait(until)`: the step is not done before `until` (the engine waits, then runs it again).

Collaborators come from `ActionServices`, built lazily, so an action module stays small and its
tests pass fakes. The actions are in `tidings.workflows.actions`; what they share lies beside this module
(`content`, `reports`), below the actions, so nothing there imports an action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import Clock

if TYPE_CHECKING:
    import httpx

    from tidings.core.config import Settings
    from tidings.crm.personalization import Personalization
    from tidings.notifications.service import NotificationMail
    from tidings.scheduling.service import SchedulingService
    from tidings.store.analytics import AnalyticsRepository


class ActionFailed(Exception):
    def __init__(self, message: str, *, retryable: bool = False, code: str = "action_failed") -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code


class ActionWait(Exception):  # a signal that the step is not done yet, not an error
    def __init__(self, until: datetime) -> None:
        super().__init__(f"wait until {until.isoformat()}")
        self.until = until


@dataclass
class ActionServices:
    """Lazily built collaborators (each a zero-argument factory)."""

    settings: Callable[[], Settings]
    scheduling: Callable[[], SchedulingService]
    analytics: Callable[[], AnalyticsRepository]
    http: Callable[[], httpx.Client]
    ses: Callable[[], Any]  # boto3 sesv2 client
    bedrock: Callable[[], Any]  # boto3 bedrock-runtime client
    personalization: Callable[[], Personalization] | None = None  # templates for CRM clients
    # notification e-mail: to the user's confirmed addresses only, counted per hour (none: no e-mail)
    notifications: Callable[[], NotificationMail] | None = None


@dataclass(frozen=True)
class ActionContext:
    user_id: str
    workflow_id: str
    step_id: str
    attempt: int
    clock: Clock
    services: ActionServices
    # Why the previous output failed a gate, when this run is a fix attempt (else empty).
    feedback: tuple[str, ...] = field(default_factory=tuple)
    # When the step first ran (a wait of N seconds counts from there).
    step_started_at: datetime | None = None


class Action(Protocol):
    name: str
    description: str

    def check_params(self, params: dict[str, Any]) -> list[str]:
        """Problems with the parameters as written in a definition (references like
        "${steps.x.output.text}" are resolved later and must be accepted as they are)."""
        ...

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        """Do the work; the output is a JSON object later steps and gates can read."""
        ...


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")
