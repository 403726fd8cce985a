"""EventBridge Scheduler expressions, in one place for the stack, the local runtime and the adapters."""

from __future__ import annotations


def rate_expression(minutes: int) -> str:
    """Scheduler's rate syntax wants the singular unit for 1 (EventBridge Scheduler User Guide,
    "Schedule types": rate(value unit))."""
    if minutes < 1:
        raise ValueError("a periodic schedule runs at most once a minute")
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"
