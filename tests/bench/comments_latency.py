"""Benchmark: from a Meta comment webhook sent to the comment analysed, on the local stack (`tidings dev`).

A user with every platform connected on the fake publishes one Facebook post; one comment is sent by
webhook and waited for until it is analysed and tied to the post (it warms the stack up: the first
analysis of a process loads VADER, and the stream has linked the post by then; its time is reported
apart as `warmup_ms`). Then the fake platforms are asked for N comments on the post at a steady rate
(`POST /_comments` with `"webhook": true`: the fake stores the comment and sends Meta's signed `feed`
webhook to the stack's `/inbound/meta` before it answers), their texts the labelled comment sets'
(tests/unit/comment_sets, one word to a few sentences). The send time of each is taken on this
machine's clock right before its request. Nothing is read from the stack while they are sent; then
`GET /comments` is read, every page, once a second until every comment is analysed (or the timeout).

The path measured: `/inbound/meta` checks the signature and stores the entry; the table's stream
takes it to comment_intake, which writes the comment (its `receivedAt`); the stream takes the new
comment to comment_intake again, which analyses it (`analysis.analyzedAt`, taken as the batch's
analysis starts) and stores the analysis. Each stream hop gathers records for up to a second (the
trigger's batching window), as Lambda's would.

Measured: analysed time minus send time (p50, p95, p99, max), the same split at `receivedAt` (the
webhook hop, and from stored to analysed), the median of each tenth of the comments in the order sent
(flat when the stack keeps up with the rate, rising when it falls behind), comments analysed a second
from the first send to the last analysis, the webhook deliveries' round trip as the fake saw it and
any not answered 200, and the comments analysed, missing, stored more than once and tied to the post.
"""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from e2e_support import DevStack, eventually, launch

SETS = Path(__file__).resolve().parents[1] / "unit" / "comment_sets"
SENDERS = 8  # requests to the fake in flight at once, at most


def _texts() -> list[str]:
    return [
        json.loads(line)["text"]
        for name in ("tuning", "holdout")
        for line in (SETS / f"{name}.jsonl").read_text().splitlines()
        if line.strip()
    ]


def _at(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _quantiles(seconds: list[float]) -> dict[str, float]:
    if len(seconds) < 2:
        return {}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def _published_post(stack: DevStack, token: str) -> tuple[str, str]:
    """A Facebook post published now: its Tidings id and the id Facebook gave it."""
    body = {
        "content": f"Open house this Saturday at 8 Cedar Ln {time.time()}",
        "platforms": ["facebook"],
        "scheduledTime": (datetime.now(UTC) + timedelta(seconds=2)).isoformat(),
    }
    created = stack.post("/posts", token, body)
    if created.status_code != 201:
        raise RuntimeError(f"the post was not created: {created.status_code} {created.text[:500]}")
    post_id = created.json()["postId"]

    def done() -> dict[str, Any] | None:
        post: dict[str, Any] = stack.get(f"/posts/{post_id}", token).json()
        return post if post["status"] == "published" else None

    post = eventually(done, 120, "the post to be published")
    return post_id, next(r["platformPostId"] for r in post["results"] if r["platform"] == "facebook")


def _send(fake_url: str, platform_post_id: str, text: str, author: int) -> dict[str, Any]:
    body = {
        "platform": "facebook",
        "postId": platform_post_id,
        "text": text,
        "author": {"id": str(90_000 + author), "name": f"Reader {author}"},
        "webhook": True,
    }
    sent = time.time()
    resp = httpx.post(f"{fake_url}/_comments", json=body, timeout=60)
    answered = time.time()
    if resp.status_code != 201:
        return {"sent": sent, "error": f"{resp.status_code} {resp.text[:200]}"}
    made = resp.json()
    return {
        "sent": sent,
        "delivery": answered - sent,
        "commentId": f"facebook.{made['commentId']}",
        "webhookStatus": made["webhook"].get("status"),
    }


def _all_comments(api: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = api.get("/comments", params={"limit": 100, **({"nextToken": token} if token else {})})
        page.raise_for_status()
        body = page.json()
        found.extend(body["comments"])
        token = body.get("nextToken")
        if not token:
            return found


def _send_steadily(fake_url: str, platform_post_id: str, count: int, rate: float) -> list[dict[str, Any]]:
    texts = _texts()
    results: list[dict[str, Any]] = [{} for _ in range(count)]
    start = time.monotonic() + 0.5

    def one(i: int) -> None:
        results[i] = _send(fake_url, platform_post_id, texts[i % len(texts)], i % 211)

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        for i in range(count):
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            pool.submit(one, i)
    return results


def run_comments_latency(state_dir: Path, count: int, rate: float, timeout: float = 300) -> dict[str, Any]:
    env = {"TIDINGS_MIN_GAP_MINUTES": "0"}
    with launch(state_dir, env) as stack:
        _, token = stack.connected_user()
        post_id, platform_post_id = _published_post(stack, token)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, timeout=60) as api:
            warm = _send(stack.fake_url, platform_post_id, "Is it still available?", 999)
            if "error" in warm:
                raise RuntimeError(f"the first comment was not sent: {warm['error']}")

            def warm_done() -> dict[str, Any] | None:
                c: dict[str, Any] = api.get(f"/comments/{warm['commentId']}").json()
                return c if c.get("analysis") and c.get("postId") else None

            first = eventually(warm_done, 120, "the first comment's analysis and post")
            warmup = _at(first["analysis"]["analyzedAt"]) - warm["sent"]

            began = time.monotonic()
            sends = _send_steadily(stack.fake_url, platform_post_id, count, rate)
            send_seconds = time.monotonic() - began
            ours = {s["commentId"]: s for s in sends if "commentId" in s}

            deadline = time.monotonic() + timeout
            while True:
                stored = [c for c in _all_comments(api) if c["commentId"] in ours]
                analysed = [c for c in stored if c["analysis"]]
                if len(analysed) >= len(ours) or time.monotonic() > deadline:
                    break
                time.sleep(1.0)

    to_analysed = [_at(c["analysis"]["analyzedAt"]) - ours[c["commentId"]]["sent"] for c in analysed]
    to_stored = [_at(c["receivedAt"]) - ours[c["commentId"]]["sent"] for c in analysed]
    stored_to_analysed = [_at(c["analysis"]["analyzedAt"]) - _at(c["receivedAt"]) for c in analysed]
    deliveries = [s["delivery"] for s in sends if "delivery" in s]
    distinct = {c["commentId"] for c in stored}
    # in the order sent: whether the stack kept up (flat) or fell behind (rising)
    sent_at = [ours[c["commentId"]]["sent"] for c in analysed]
    in_order = [t for _, t in sorted(zip(sent_at, to_analysed, strict=True))]
    tenths = [in_order[i * len(in_order) // 10 : (i + 1) * len(in_order) // 10] for i in range(10)]
    first_sent = min((s["sent"] for s in sends if "sent" in s), default=0.0)
    last_analysed = max((_at(c["analysis"]["analyzedAt"]) for c in analysed), default=first_sent)
    return {
        "comments": count,
        "rate_per_second": rate,
        "sent_rate_per_second": round(count / send_seconds, 1) if send_seconds else None,
        "send_errors": [s["error"] for s in sends if "error" in s][:5],
        "webhooks_not_200": sum(1 for s in sends if "commentId" in s and s["webhookStatus"] != 200),
        "webhook_delivery": _quantiles(deliveries),
        "analysed": len(analysed),
        "missing": len(ours) - len(analysed),
        "missing_examples": [
            {"commentId": k, "sent": v["sent"], "webhookStatus": v["webhookStatus"]}
            for k, v in ours.items()
            if k not in {c["commentId"] for c in analysed}
        ][:10],
        "stored_more_than_once": len(stored) - len(distinct),
        "tied_to_post": sum(1 for c in analysed if c["postId"] == post_id),
        "warmup_ms": round(warmup * 1000, 1),
        "webhook_to_analysed": _quantiles(to_analysed),
        "webhook_to_stored": _quantiles(to_stored),
        "stored_to_analysed": _quantiles(stored_to_analysed),
        "p50_ms_by_tenth_sent": [round(statistics.median(t) * 1000) for t in tenths if t],
        "analysed_per_second": round(len(analysed) / (last_analysed - first_sent), 1)
        if last_analysed > first_sent
        else None,
    }


def _spread(q: dict[str, float]) -> str:
    if not q:
        return "n/a"
    return f"{q['p50_ms']} / {q['p95_ms']} / {q['p99_ms']} / {q['max_ms']} ms"


def comments_latency_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    label = f"{r['comments']:,} webhook comments at {r['rate_per_second']:g}/s"
    return [
        (label, "webhook -> analysed p50/p95/p99/max", _spread(r["webhook_to_analysed"])),
        (label, "webhook -> stored p50/p95/p99/max", _spread(r["webhook_to_stored"])),
        (label, "stored -> analysed p50/p95/p99/max", _spread(r["stored_to_analysed"])),
        (label, "webhook delivery p50/p95/p99/max", _spread(r["webhook_delivery"])),
        (
            label,
            "analysed / missing / tied to post / twice",
            f"{r['analysed']} / {r['missing']} / {r['tied_to_post']} / {r['stored_more_than_once']}",
        ),
        (label, "p50 by tenth sent", " ".join(f"{ms / 1000:.1f}" for ms in r["p50_ms_by_tenth_sent"]) + " s"),
        (
            label,
            "sent/s (asked) -> analysed/s; not 200",
            f"{r['sent_rate_per_second']} ({r['rate_per_second']:g}) -> {r['analysed_per_second']}; "
            f"{r['webhooks_not_200']}",
        ),
    ]
