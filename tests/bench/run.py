"""Benchmarks of the local stack (`make bench`): writes bench-results.json and prints a table.

1. Lateness: 1,000 posts due evenly over one minute on three platforms, through the whole path
   (API -> table -> stream -> Scheduler -> state machine -> publish step -> platform); then a burst
   of 200 posts due at the same second. Lateness = when the fake platform applied the post minus the
   post's scheduled time. Target: p99 under 1 s.
2. Faults: the same minute with 30% HTTP 500 on one platform: duplicates (target 0), lost posts
   (target 0: every post ends published, or failed with a reason), time to finish.
3. Cold import: each handler module's import time as a ratio to `import boto3` alone, measured in
   one run in fresh interpreters (target at most 1.5).
4. Metrics collection (tests/bench/metrics_collection.py): 1,200 published posts across the six
   platforms and 40 users (as many as the fake platforms' publishing limits let out), read back once:
   platform calls per post, the time it takes, and that no read budget was exceeded.
5. CRM (tests/bench/crm.py): activities per second delivered to the fake HubSpot in batches of 100
   against one by one (target: batching at least 10 times more), with the HTTP calls per 100
   activities and each activity held once; personalisations per second with a warm client cache.
6. Comments (tests/bench/comments.py): comments the local comment analyzer analyzes per second on
   one core (target at least 500).
7. Comment latency (tests/bench/comments_latency.py): N comments sent by the fake as Meta's signed
   webhooks at a steady rate, each timed from its webhook's send to its analysis (p50, p95, p99).

Options: --posts N (default 1000), --burst N (default 200), --skip-faults, --skip-lateness,
--metrics-posts N (default 1200), --metrics-users N (default 40), --skip-metrics, --crm-activities N
(default 2000), --crm-renders N (default 20000), --skip-crm, --campaign-recipients N (default
10000), --campaign-rate N (the SES front's maxSendRate, default 200), --skip-campaign, --comments N
(default 5000), --skip-comments, --latency-comments N (default 600), --latency-rate N (webhooks a
second, default 10), --skip-comments-latency, --output FILE.
--only PART (import, lateness, faults, metrics, crm, campaign, comments or comments-latency) runs that
part alone and keeps the other parts' last results in the output file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from campaign import campaign_rows, run_campaign  # noqa: E402
from comments import comments_rows, run_comments  # noqa: E402
from comments_latency import comments_latency_rows, run_comments_latency  # noqa: E402
from crm import crm_rows, run_crm  # noqa: E402
from e2e_support import DevStack as Stack  # noqa: E402
from e2e_support import launch  # noqa: E402
from metrics_collection import run_metrics  # noqa: E402

from infra.topology import FUNCTIONS  # noqa: E402

PLATFORMS = ("facebook", "twitter", "linkedin")
PARTS = ("import", "lateness", "faults", "metrics", "crm", "campaign", "comments", "comments-latency")
FINAL = {"published", "partially_published", "failed", "cancelled"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


def schedule(stack: Stack, posts: list[dict[str, Any]]) -> list[str]:
    headers = {"Authorization": f"Bearer {stack.demo_token}"}
    chunks = [posts[i : i + 50] for i in range(0, len(posts), 50)]

    def send(chunk: list[dict[str, Any]]) -> list[str]:
        with httpx.Client(timeout=60) as http:
            resp = http.post(f"{stack.api_url}/posts/batch", json={"posts": chunk}, headers=headers)
            body = resp.json()
            failed = [r for r in body["results"] if not r["ok"]]
            if failed:
                raise RuntimeError(f"scheduling failed: {failed[:3]}")
            return [r["post"]["postId"] for r in body["results"]]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return [pid for ids in pool.map(send, chunks) for pid in ids]


def wait_final(stack: Stack, post_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {stack.demo_token}"}
    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30) as http:
        while len(final) < len(post_ids) and time.monotonic() < deadline:
            for pid in post_ids:
                if pid in final:
                    continue
                post = http.get(f"{stack.api_url}/posts/{pid}", headers=headers).json()
                if post["status"] in FINAL:
                    final[pid] = post
            if len(final) < len(post_ids):
                time.sleep(1.0)
    return final


def received(stack: Stack) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = httpx.get(f"{stack.fake_url}/_received", timeout=30).json()
    return result


def run_due(stack: Stack, n: int, spread: float, start_in: float, tag: str) -> dict[str, Any]:
    """n posts due evenly over `spread` seconds, starting `start_in` seconds from now."""
    t0 = datetime.now(UTC) + timedelta(seconds=start_in)
    posts = []
    due: dict[str, datetime] = {}
    for i in range(n):
        when = t0 + timedelta(seconds=spread * i / n) if spread else t0
        text = f"{tag} post {i} {uuid.uuid4().hex[:8]}"
        due[text] = when
        posts.append(
            {"content": text, "platforms": [PLATFORMS[i % len(PLATFORMS)]], "scheduledTime": when.isoformat()}
        )
    created = time.monotonic()
    ids = schedule(stack, posts)
    scheduling_seconds = time.monotonic() - created
    last_due = max(due.values())
    wait = (last_due - datetime.now(UTC)).total_seconds() + 120
    final = wait_final(stack, ids, timeout=max(wait, 60))
    finished = datetime.now(UTC)
    applied = [r for r in received(stack) if r["text"] in due]
    counts = Counter(r["text"] for r in applied)
    lateness = [
        (datetime.fromisoformat(r["receivedAt"].replace("Z", "+00:00")) - due[r["text"]]).total_seconds()
        for r in applied
    ]
    last_applied = max(
        (datetime.fromisoformat(r["receivedAt"].replace("Z", "+00:00")) for r in applied), default=finished
    )
    statuses = Counter(p["status"] for p in final.values())
    lost = [
        pid
        for pid in ids
        if pid not in final
        or (
            final[pid]["status"] == "published"
            and not any(r["status"] == "published" for r in final[pid]["results"])
        )
        or (final[pid]["status"] == "failed" and not final[pid].get("finalReason"))
    ]
    published_texts = {p["content"] for p in final.values() if p["status"] == "published"}
    return {
        "posts": n,
        "scheduling_seconds": round(scheduling_seconds, 2),
        "applied": len(applied),
        "duplicates": sum(c - 1 for c in counts.values() if c > 1),
        "lost": len(lost) + len([t for t in published_texts if t not in counts]),
        "statuses": dict(statuses),
        "lateness_p50_ms": round(percentile(lateness, 0.50) * 1000, 1),
        "lateness_p99_ms": round(percentile(lateness, 0.99) * 1000, 1),
        "lateness_max_ms": round(max(lateness, default=float("nan")) * 1000, 1),
        "early": sum(1 for x in lateness if x < 0),
        "seconds_from_last_due_to_last_applied": round((last_applied - last_due).total_seconds(), 3),
        # evidence for the counts above, so a regression can be traced to posts
        "duplicate_examples": [r for r in applied if counts[r["text"]] > 1][:10],
        "early_examples": [
            {**r, "due": due[r["text"]].isoformat()} for r, x in zip(applied, lateness, strict=True) if x < 0
        ][:10],
    }


def import_ratios(repeats: int = 7) -> dict[str, Any]:
    """Cold import of each handler module vs `import boto3`, each in a fresh interpreter."""
    code = "import sys,time;t=time.perf_counter();import {mod};print(time.perf_counter()-t)"

    def measure(module: str, path: Path | None) -> float:
        env = dict(os.environ)
        if path is not None:
            env["PYTHONPATH"] = str(path)
        out = subprocess.run(
            [sys.executable, "-c", code.format(mod=module)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout.strip())

    samples: dict[str, list[float]] = {"boto3": []}
    for _ in range(repeats):
        samples["boto3"].append(measure("boto3", None))
        for spec in FUNCTIONS:
            samples.setdefault(spec.name, []).append(measure("handler", spec.folder))
    base = statistics.median(samples["boto3"])
    return {
        "boto3_ms": round(base * 1000, 1),
        "handlers": {
            name: {
                "ms": round(statistics.median(v) * 1000, 1),
                "ratio": round(statistics.median(v) / base, 2),
            }
            for name, v in samples.items()
            if name != "boto3"
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--skip-lateness", action="store_true")
    parser.add_argument("--metrics-posts", type=int, default=1200)
    parser.add_argument("--metrics-users", type=int, default=40)
    parser.add_argument("--skip-metrics", action="store_true")
    parser.add_argument("--crm-activities", type=int, default=2000)
    parser.add_argument("--crm-renders", type=int, default=20_000)
    parser.add_argument("--skip-crm", action="store_true")
    parser.add_argument("--campaign-recipients", type=int, default=10_000)
    parser.add_argument("--campaign-rate", type=float, default=200.0)
    parser.add_argument("--skip-campaign", action="store_true")
    parser.add_argument("--comments", type=int, default=5000)
    parser.add_argument("--skip-comments", action="store_true")
    parser.add_argument("--latency-comments", type=int, default=600)
    parser.add_argument("--latency-rate", type=float, default=10.0)
    parser.add_argument("--skip-comments-latency", action="store_true")
    parser.add_argument("--only", choices=PARTS)
    parser.add_argument("--output", default=str(ROOT / "bench-results.json"))
    args = parser.parse_args()
    skip = {
        p: getattr(args, f"skip_{p.replace('-', '_')}", False) or args.only not in (None, p) for p in PARTS
    }

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    if not skip["import"]:
        results["cold_import"] = import_ratios()
    env = {
        "TIDINGS_MIN_GAP_MINUTES": "0",
        # the platforms' own rate limits would hold most of a thousand posts a minute back
        "TIDINGS_RATE_BUDGETS": "false",
        "TIDINGS_MAX_QUEUE_PER_PLATFORM": "100000",
        "TIDINGS_QUOTA_SCHEDULED_POSTS": "100000",
        "TIDINGS_API_RATE_PER_SECOND": "0",
        "TIDINGS_SCHEDULE_LEAD_SECONDS": "30",
        "TIDINGS_RETRY_INTERVALS": "1,2,4",
    }
    if not (skip["lateness"] and skip["faults"]):
        with tempfile.TemporaryDirectory() as state, launch(Path(state), env) as stack:
            if not skip["lateness"]:
                results["due_minute"] = run_due(stack, args.posts, 60.0, 60.0, "minute")
                results["burst"] = run_due(stack, args.burst, 0.0, 45.0, "burst")
            if not skip["faults"]:
                httpx.post(
                    f"{stack.fake_url}/_faults",
                    json={"faults": "facebook:error500:0.3", "seed": 7},
                    timeout=10,
                )
                started = time.monotonic()
                results["faults"] = run_due(stack, args.posts, 60.0, 60.0, "faults")
                results["faults"]["fault_spec"] = "facebook:error500:0.3"
                results["faults"]["wall_seconds"] = round(time.monotonic() - started, 1)

    if not skip["metrics"]:
        with tempfile.TemporaryDirectory() as state:
            results["metrics"] = run_metrics(Path(state), args.metrics_posts, args.metrics_users)
    if not skip["crm"]:
        results["crm"] = run_crm(args.crm_activities, args.crm_renders)
    if not skip["campaign"]:
        with tempfile.TemporaryDirectory() as state:
            results["campaign"] = run_campaign(Path(state), args.campaign_recipients, args.campaign_rate)
    if not skip["comments"]:
        results["comments"] = run_comments(args.comments)
    if not skip["comments-latency"]:
        with tempfile.TemporaryDirectory() as state:
            results["comments_latency"] = run_comments_latency(
                Path(state), args.latency_comments, args.latency_rate
            )

    output = Path(args.output)
    kept = json.loads(output.read_text()) if args.only and output.exists() else {}
    output.write_text(json.dumps({**kept, **results}, indent=2) + "\n")
    print_table(results)
    print(f"\nwritten: {args.output}")
    return 0


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []
    for key, label in (
        ("due_minute", "1,000 due over 1 min"),
        ("burst", "burst at one second"),
        ("faults", "30% error500"),
    ):
        r = results.get(key)
        if not r:
            continue
        rows.append(
            (
                label,
                "p50 / p99 / max lateness",
                f"{r['lateness_p50_ms']} / {r['lateness_p99_ms']} / {r['lateness_max_ms']} ms",
            )
        )
        rows.append((label, "duplicates / lost / early", f"{r['duplicates']} / {r['lost']} / {r['early']}"))
        rows.append((label, "last due -> last applied", f"{r['seconds_from_last_due_to_last_applied']} s"))
        rows.append((label, "statuses", json.dumps(r["statuses"])))
    metrics = results.get("metrics")
    if metrics:
        label = f"metrics of {metrics['posts']:,} posts"
        rows.append((label, "collected / tracked", f"{metrics['collected']} / {metrics['tracked']}"))
        rows.append((label, "platform calls per post", str(metrics["calls_per_post"])))
        rows.append((label, "collection took", f"{metrics['collect_seconds']} s"))
        rows.append(
            (
                label,
                "deferred for a budget / stopped",
                f"{metrics['deferred_for_budget']} / {metrics['stopped']}",
            )
        )
        worst = {p: f"{v['most_in_a_window']}/{v['limit']}" for p, v in metrics["budget_max_use"].items()}
        rows.append((label, "most reads in a budget window", json.dumps(worst)))
    if results.get("crm"):
        rows += crm_rows(results["crm"])
    if results.get("campaign"):
        rows += campaign_rows(results["campaign"])
    if results.get("comments"):
        rows += comments_rows(results["comments"])
    if results.get("comments_latency"):
        rows += comments_latency_rows(results["comments_latency"])
    cold = results.get("cold_import")
    if cold:
        rows.append(("cold import", "import boto3", f"{cold['boto3_ms']} ms"))
        for name, v in cold["handlers"].items():
            rows.append(("cold import", name, f"{v['ms']} ms (x{v['ratio']})"))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(cell.ljust(width[i]) for i, cell in enumerate(r)))


if __name__ == "__main__":
    raise SystemExit(main())
