"""One outbound HTTP call to a vendor or platform, as metrics see it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallRecord:
    """One HTTP call a connector made, for metrics: never the URL's query or any header."""

    operation: str  # e.g. "contacts.list", "runReport"
    status: int | None  # HTTP status, None when no answer came
    latency_ms: float
    ok: bool
