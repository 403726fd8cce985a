"""Recommendation insights: what to do, each tied to the findings it rests on.

- Every opportunity becomes a recommendation to act on it (publish more of the type, schedule at the
  hour or on the weekday, lead with the platform), with the opportunity's numbers as its evidence and
  its confidence and impact.
- A decline (the engagement-rate warning, or else the steepest falling engagement-rate trend) becomes
  one recommendation to recover: with opportunities, lean on them; without, find what changed. Its
  confidence is the lowest of the findings it rests on; its impact that of the decline.

A recommendation's evidence lists the type, subject, title and key numbers of each finding it rests
on (`basedOn`); the stored insight also names their insight ids (`sources`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tidings.analytics.insights.findings import Finding
from tidings.store.insights import InsightType

_KEY_NUMBERS = ("ratio", "interval", "posts", "change", "test", "recent", "baseline", "periodDays")


def _basis(finding: Finding) -> dict[str, Any]:
    numbers = {name: finding.evidence[name] for name in _KEY_NUMBERS if name in finding.evidence}
    return {
        "type": str(finding.type),
        "subject": finding.subject,
        "title": finding.title,
        "confidence": finding.confidence,
    } | numbers


def _act_on(opportunity: Finding) -> Finding:
    dimension, _, label = opportunity.subject.partition(":")
    title = {
        "contentType": f"Publish more {label} posts",
        "hour": f"Schedule posts around {label}",
        "weekday": f"Post more on {label}s",
        "platform": f"Lead with {label}",
    }.get(dimension, opportunity.title)
    return Finding(
        type=InsightType.RECOMMENDATION,
        subject=opportunity.subject,
        title=title,
        description=f"{opportunity.title}. {opportunity.description}",
        impact=opportunity.impact,
        confidence=opportunity.confidence,
        evidence={"basedOn": [_basis(opportunity)]},
        recommendations=opportunity.recommendations,
        signal=opportunity.signal,
        lifetime=opportunity.lifetime,
        based_on=(opportunity.key,),
    )


def _decline(findings: Sequence[Finding]) -> Finding | None:
    for finding in findings:
        if finding.type == InsightType.WARNING and finding.subject == "engagement_rate":
            return finding
    falling = [
        f for f in findings if f.type == InsightType.TREND and f.subject.startswith("rate:") and f.signal < 0
    ]
    return min(falling, key=lambda f: f.signal, default=None)


def _recover(decline: Finding, opportunities: Sequence[Finding]) -> Finding:
    sources = [decline, *opportunities]
    if opportunities:
        title = "Lean on what works to bring your engagement rate back"
        advice = tuple(a for o in opportunities for a in o.recommendations)
        because = "; ".join(o.title for o in opportunities)
        description = f"{decline.title}. What does best for you: {because}."
    else:
        title = "Find what changed in your recent posts"
        advice = decline.recommendations
        description = (
            f"{decline.title}, and no content type, time or platform stands out yet as doing better: "
            "compare your recent posts with earlier ones that did well."
        )
    return Finding(
        type=InsightType.RECOMMENDATION,
        subject="recover_engagement",
        title=title,
        description=description,
        impact=decline.impact,
        confidence=min(s.confidence for s in sources),
        evidence={"basedOn": [_basis(s) for s in sources]},
        recommendations=advice,
        signal=decline.signal,
        lifetime=decline.lifetime,
        based_on=tuple(s.key for s in sources),
    )


def recommendation_findings(findings: Sequence[Finding]) -> list[Finding]:
    opportunities = [f for f in findings if f.type == InsightType.OPPORTUNITY]
    found = [_act_on(o) for o in opportunities]
    decline = _decline(findings)
    if decline is not None:
        found.append(_recover(decline, opportunities))
    return found
