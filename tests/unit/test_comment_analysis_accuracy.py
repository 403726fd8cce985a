"""The local analyzer keeps its accuracy on the labelled comment sets (README, "Comment analysis")."""

from __future__ import annotations

from comment_accuracy import measure


def test_the_held_out_comments_are_decided_and_read_as_well_as_the_readme_says() -> None:
    sentiment, decision = measure("holdout")

    assert decision.accuracy >= 0.95
    assert sentiment.accuracy >= 0.80
    # nothing that must reach a person is missed, and nothing is hidden that should not be
    assert decision.per_class["escalate"][1] == 1.0
    assert decision.per_class["hide"][0] == 1.0


def test_the_tuning_comments_stay_decided_as_labelled() -> None:
    sentiment, decision = measure("tuning")

    assert decision.accuracy >= 0.98
    assert sentiment.accuracy >= 0.85
