"""`tidings dev --demo` as `make dev ARGS=--demo` runs it: its sample posts are published, then its
short campaign (three emails 5 s apart to three sample recipients) is planned, sent and completed, each
step printed, and the local SES front holds each email once per recipient; then comments come to the
published posts (three by Meta's signed webhook, one by the read of the watched posts), each printed as
it arrives and is analysed, the spam and the insult are hidden on their platforms, and the question's
drafted reply is approved and reaches the fake platform once."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from infra.local.demo import CAMPAIGN_DELAY_SECONDS, CAMPAIGN_RECIPIENTS, COMMENT_SETTINGS, COMMENTS

# `RunningDev` comes from tests/e2e/conftest.py (fixture `start_tidings_dev`).
RunningDev = Any

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FINISHED = re.compile(r"demo: campaign (\S+) (completed|failed|cancelled): ")
SENT = re.compile(r"demo: campaign email (\d) sent to (\S+) at ")
PEOPLE = {email for email, _ in CAMPAIGN_RECIPIENTS}
COMMENTS_DONE = re.compile(r"demo: comments: done: ")
ARRIVED = re.compile(r"demo: comment (\S+) arrived (by webhook|by the read of its post)$")
ANALYSED = re.compile(r"demo: comment (\S+) analysed: sentiment (\w+), decision (\w+) \((.*)\)$")


def _demo_lines(dev: RunningDev, timeout: float) -> list[str]:
    """The demo's lines once its comments are done (or the timeout passed, or the demo stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in list(dev.output) if line.startswith("demo: ")]
        if any(COMMENTS_DONE.match(line) or "demo: stopped" in line for line in lines):
            return lines
        time.sleep(1)
    return [line for line in list(dev.output) if line.startswith("demo: ")]


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_demo_publishes_its_posts_sends_its_campaign_once_per_recipient_then_answers_comments(
    start_tidings_dev: Callable[..., RunningDev],
) -> None:
    dev = start_tidings_dev(args=["--demo"])
    (emails_line,) = [line for line in dev.output if line.startswith("emails: ")]
    emails_url = emails_line[len("emails: ") :].strip()

    lines = _demo_lines(dev, timeout=420)

    printed = "\n".join(lines)
    assert not [line for line in lines if "stopped" in line or "could not" in line], printed
    # the posts, as before
    assert any("demo: done: the fake platforms received 6 of 6 publishes" in line for line in lines), printed
    # the campaign: each email planned for everybody, each sent to everybody once, then its outcome
    planned = [line for line in lines if re.match(r"demo: campaign email \d planned for ", line)]
    assert len(planned) == 3, printed
    assert all(f"to {', '.join(sorted(PEOPLE))}" in line for line in planned), printed
    sent = Counter(m.groups() for line in lines if (m := SENT.match(line)))
    assert sent == {(str(n), email): 1 for n in (1, 2, 3) for email in PEOPLE}, printed
    (finished,) = [(m, line) for line in lines if (m := FINISHED.match(line))]
    campaign_id, status = finished[0].groups()
    assert status == "completed"
    assert (
        f"completed: 9 sent (email 1: 3, email 2: 3, email 3: 3), 0 skipped, 0 failed; "
        f"the SES front recorded 9 of 9 (see {emails_url})" in finished[1]
    )

    # what the SES front holds: each email once per recipient
    went = [
        e
        for e in httpx.get(emails_url, timeout=10).json()["emails"]
        if e["tags"].get("tidings_campaign") == campaign_id
    ]
    assert Counter((e["to"][0], e["tags"]["tidings_email"]) for e in went) == {
        (email, str(n)): 1 for n in (1, 2, 3) for email in PEOPLE
    }
    # and each went out at its planned time, the emails CAMPAIGN_DELAY_SECONDS apart
    api = httpx.Client(base_url=dev.api_url, headers={"Authorization": f"Bearer {dev.token}"}, timeout=30)
    sends = api.get(f"/campaigns/{campaign_id}/sends", params={"limit": 100}).json()["sends"]
    assert {s["status"] for s in sends} == {"sent"}
    due = {s["n"]: _when(s["sendAt"]) for s in sends}
    assert [(due[n + 1] - due[n]).total_seconds() for n in (1, 2)] == [CAMPAIGN_DELAY_SECONDS] * 2
    for s in sends:
        late = (_when(s["sentAt"]) - _when(s["sendAt"])).total_seconds()
        assert 0 <= late < 10, s

    _the_comments_were_analysed_hidden_and_answered(dev, api, lines)


def _the_comments_were_analysed_hidden_and_answered(
    dev: RunningDev, api: httpx.Client, lines: list[str]
) -> None:
    printed = "\n".join(lines)
    assert "demo: comments: hiding allowed (PUT /comments/settings)" in printed
    # the comments' own lines come after the campaign's outcome
    start = next(i for i, line in enumerate(lines) if line.startswith("demo: comments: hiding allowed"))
    assert any(FINISHED.match(line) for line in lines[:start]), printed
    # each comment arrived the way it was sent: three by webhook, the YouTube one by the read
    arrived = {m[1]: m[2] for line in lines if (m := ARRIVED.match(line))}
    assert sorted((c.split(".")[0], how) for c, how in arrived.items()) == [
        ("facebook", "by webhook"),
        ("facebook", "by webhook"),
        ("instagram", "by webhook"),
        ("youtube", "by the read of its post"),
    ], printed
    assert re.search(
        r"demo: comments: POST /comments/sync read \d+ watched posts: \d+ comments, 1 new", printed
    )
    analysed = {m[1]: (m[2], m[3], m[4]) for line in lines if (m := ANALYSED.match(line))}
    assert set(analysed) == set(arrived), printed

    stored = {c["commentId"]: c for c in api.get("/comments", params={"limit": 100}).json()["comments"]}
    assert set(stored) == set(arrived)
    by_text = {stored[c]["text"]: c for c in stored}
    question, praise, spam, insult = (by_text[c.text] for c in COMMENTS)
    # what each was decided, as printed and as stored
    assert analysed[question][1:] == ("needs_response", "question, buying_signal")
    assert analysed[praise][1] == "no_response"
    assert analysed[spam][1:] == ("hide", "spam: known_pattern")
    assert analysed[insult][1:] == ("hide", "toxic: INSULT")
    assert (analysed[praise][0], analysed[insult][0]) == ("positive", "negative")
    for comment_id, (sentiment, decision, _) in analysed.items():
        assert (stored[comment_id]["analysis"]["sentiment"], stored[comment_id]["analysis"]["decision"]) == (
            sentiment,
            decision,
        )
    # the spam and the insult hidden on their platforms, the question answered, the praise left
    assert f"demo: comment {spam} hidden on facebook" in lines
    assert f"demo: comment {insult} hidden on instagram" in lines
    assert {c: stored[c]["status"] for c in stored} == {
        question: "handled",
        praise: "new",
        spam: "hidden",
        insult: "hidden",
    }
    reply = stored[question]["reply"]
    assert reply["text"].endswith(str(COMMENT_SETTINGS["signature"]))
    assert f'demo: reply drafted for {question}: "{reply["draft"]}"' in lines
    assert (
        f"demo: reply to {question} approved (POST /comments/{{id}}/reply/approve) and posted on facebook "
        f"as {reply['platformReplyId']}" in lines
    )
    assert lines[-1] == (
        "demo: comments: done: 4 of 4 comments analysed, 2 hidden, 1 reply posted; the fake platforms "
        f"received 2 hides and the reply once (see {dev.fake_url}/_received)"
    )

    # what the fake platforms received: each hide, and the reply once, with the approved text
    received = httpx.get(f"{dev.fake_url}/_received", timeout=10).json()
    ids = {c: stored[c]["platformCommentId"] for c in stored}
    hides = sorted(
        (r["platform"], r["commentId"], r["hidden"]) for r in received if r.get("action") == "hide"
    )
    assert hides == sorted([("facebook", ids[spam], True), ("instagram", ids[insult], True)])
    replies = [r for r in received if r.get("action") == "reply"]
    assert [(r["platform"], r["commentId"], r["replyId"], r["text"]) for r in replies] == [
        ("facebook", ids[question], reply["platformReplyId"], reply["text"])
    ]
