"""The action registry: every action a workflow step can name. A new action is one module with an
object that has `name`, `description`, `check_params` and `run` (see tidings.workflows.action),
listed here."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tidings.workflows.action import Action

# module -> the names of its action objects
_MODULES: dict[str, tuple[str, ...]] = {
    "tidings.workflows.actions.generate_content": ("ACTION",),
    "tidings.workflows.actions.validate_content": ("ACTION",),
    "tidings.workflows.actions.send_notification": ("ACTION",),
    "tidings.workflows.actions.analytics_report": ("GATHER_ANALYTICS", "COMPUTE_TRENDS", "DRAFT_REPORT"),
    "tidings.workflows.actions.scheduling": ("SCHEDULE_POST", "SCHEDULE_POSTS", "PUBLISH_NOW", "WAIT_UNTIL"),
    "tidings.workflows.actions.campaign": ("PLAN_CAMPAIGN",),
    "tidings.workflows.actions.personalize": ("ACTION",),
}


@lru_cache(maxsize=1)
def registry() -> dict[str, Action]:
    actions: dict[str, Action] = {}
    for module_name, names in _MODULES.items():
        module = importlib.import_module(module_name)
        for name in names:
            action: Action = getattr(module, name)
            actions[action.name] = action
    return actions
