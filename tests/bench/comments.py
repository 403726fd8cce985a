"""Benchmark of the local comment analyzer: comments analyzed per second on one core (target: at
least 500/s).

The comments are the labelled sets' texts (tests/unit/comment_sets, 219 real-estate comments from one
word to a few sentences) repeated to the count asked, analyzed in batches of 25 with 50 recent texts
to compare for near-duplicates, as comment intake would pass them. The process is pinned to one CPU
for the runs (where the OS allows it); three runs, the median reported, after a warm-up that loads
VADER's lexicons (the first comment of a process pays that once: measured apart as `first_call_ms`).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from tidings.engagement.analysis import AnalysisContext, CommentText, local_analyzer

SETS = Path(__file__).resolve().parents[1] / "unit" / "comment_sets"
BATCH = 25
RECENT = 50


def _texts() -> list[str]:
    return [
        json.loads(line)["text"]
        for name in ("tuning", "holdout")
        for line in (SETS / f"{name}.jsonl").read_text().splitlines()
        if line.strip()
    ]


def run_comments(count: int, repeats: int = 3) -> dict[str, Any]:
    texts = _texts()
    comments = [
        CommentText(f"c{i}", texts[i % len(texts)], "facebook", f"a{i % 97}", f"p{i % 13}")
        for i in range(count)
    ]
    context = AnalysisContext(allow_hide=True, recent_texts=texts[:RECENT])
    pinned = hasattr(os, "sched_setaffinity")
    if pinned:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(before)})
    try:
        started = time.perf_counter()
        analyzer = local_analyzer()
        analyzer.analyze(comments[:1], context)
        first_call = time.perf_counter() - started
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            for start in range(0, count, BATCH):
                analyzer.analyze(comments[start : start + BATCH], context)
            rates.append(count / (time.perf_counter() - started))
    finally:
        if pinned:
            os.sched_setaffinity(0, before)
    return {
        "comments": count,
        "batch": BATCH,
        "recent_texts": RECENT,
        "one_core": pinned,
        "comments_per_second": round(statistics.median(rates)),
        "runs_per_second": [round(r) for r in rates],
        "ms_per_comment": round(1000 / statistics.median(rates), 3),
        "first_call_ms": round(first_call * 1000, 1),
        "target_per_second": 500,
    }


def comments_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    label = f"comment analysis, {result['comments']:,} comments"
    return [
        (label, "comments/s on one core (local)", f"{result['comments_per_second']} (target 500)"),
        (label, "per comment", f"{result['ms_per_comment']} ms"),
        (label, "first call (VADER loaded)", f"{result['first_call_ms']} ms"),
    ]


if __name__ == "__main__":
    print(json.dumps(run_comments(5000), indent=2))
