"""The one rule that turns what was found in a comment into what to do with it, for both analyzers.

In order, the first that applies:

1. `escalate`: a threat (the VIOLENCE_OR_THREAT toxicity label), legal terms (a lawyer, a lawsuit,
   fair housing, fraud...) or a crisis (an emergency, someone harmed, a scam made public). A person
   must see these, so they are never hidden, whatever the user allows.
2. `hide`: toxic (any toxicity label) or spam, when the user allows hiding; when not, `no_response`
   with the same reasons and `hiding_not_allowed`.
3. `needs_response`: a question, a complaint (complaint terms: a sad or gloomy remark is not one),
   or a buying signal (a viewing, the price, an offer...).
4. `no_response`: anything else (praise, tags, remarks).

Reasons name what applied: `threat`, `legal`, `crisis`, `toxic`, `spam`, `hiding_not_allowed`,
`question`, `complaint`, `buying_signal`, or `nothing_to_answer`.
"""

from __future__ import annotations

from tidings.engagement.analysis.rules import TextSignals

THREAT_LABEL = "VIOLENCE_OR_THREAT"


def decide(
    toxicity_labels: tuple[str, ...], signals: TextSignals, allow_hide: bool
) -> tuple[str, tuple[str, ...]]:
    """(decision, reasons) for a comment with these toxicity labels and text signals."""
    escalation = [
        reason
        for reason, found in (
            ("threat", THREAT_LABEL in toxicity_labels),
            ("legal", signals.legal),
            ("crisis", signals.crisis),
        )
        if found
    ]
    if escalation:
        return "escalate", tuple(escalation)
    unwanted = [
        reason
        for reason, found in (("toxic", bool(toxicity_labels)), ("spam", bool(signals.spam_reasons)))
        if found
    ]
    if unwanted:
        return ("hide", tuple(unwanted)) if allow_hide else ("no_response", (*unwanted, "hiding_not_allowed"))
    answer = [
        reason
        for reason, found in (
            ("question", signals.question),
            ("complaint", signals.complaint),
            ("buying_signal", signals.buying_signal),
        )
        if found
    ]
    if answer:
        return "needs_response", tuple(answer)
    return "no_response", ("nothing_to_answer",)
