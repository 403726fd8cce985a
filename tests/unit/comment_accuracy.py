"""The local comment analyzer measured on the labelled comment sets in comment_sets/: `tuning.jsonl`
(159 comments the rules were written against) and `holdout.jsonl` (60 written before the rules and
never tuned on). Each line: text, sentiment, decision (with hiding allowed), and optional `recent`
texts for near-duplicates. `python tests/unit/comment_accuracy.py` prints the figures the README
gives."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidings.engagement.analysis import DECISIONS, SENTIMENTS, AnalysisContext, CommentText, local_analyzer

SETS = Path(__file__).parent / "comment_sets"


def labelled(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SETS / f"{name}.jsonl").read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class Scores:
    accuracy: float
    per_class: dict[str, tuple[float, float, int]]  # class: (precision, recall, support)


def scores(expected: Sequence[str], got: Sequence[str], classes: Sequence[str]) -> Scores:
    pairs = list(zip(expected, got, strict=True))
    per_class = {}
    for name in classes:
        hits = sum(1 for e, g in pairs if e == g == name)
        predicted = sum(1 for _, g in pairs if g == name)
        support = sum(1 for e, _ in pairs if e == name)
        per_class[name] = (
            hits / predicted if predicted else 0.0,
            hits / support if support else 0.0,
            support,
        )
    return Scores(sum(1 for e, g in pairs if e == g) / len(pairs), per_class)


def measure(name: str) -> tuple[Scores, Scores]:
    """(sentiment scores, decision scores) of the local analyzer on a labelled set, each comment
    analyzed on its own with hiding allowed and its own recent texts."""
    analyzer = local_analyzer()
    rows = labelled(name)
    results = [
        analyzer.analyze(
            [CommentText(str(i), row["text"], "facebook", None, None)],
            AnalysisContext(allow_hide=True, recent_texts=row.get("recent", [])),
        )[0]
        for i, row in enumerate(rows)
    ]
    sentiment = scores([r["sentiment"] for r in rows], [a.sentiment for a in results], SENTIMENTS)
    decision = scores([r["decision"] for r in rows], [a.decision for a in results], DECISIONS)
    return sentiment, decision


if __name__ == "__main__":
    for set_name in ("tuning", "holdout"):
        for kind, result in zip(("sentiment", "decision"), measure(set_name), strict=True):
            print(f"{set_name} {kind}: accuracy {result.accuracy:.1%}")
            for cls, (precision, recall, support) in result.per_class.items():
                print(f"  {cls:15} precision {precision:.0%} recall {recall:.0%} ({support})")
