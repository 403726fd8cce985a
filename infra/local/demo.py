"""`tidings dev --demo`: a client of the local HTTP API showing posts go out at their second.

It schedules three sample posts 5, 10 and 15 seconds ahead, two platforms each (so the minimum gap
between two posts on one platform is never in the way), with media on the fake's `/_media` where a
platform needs it, then prints each post's progress, scheduled -> publishing -> published, with the
per-platform URL and lateness (publishedAt - scheduledTime, in ms), and checks what the fake
platforms really received.

Then the metrics: once each published post's analytics are being collected, the demo ages the posts
on the fake platforms by three days (`POST /_metrics` with `publishedAt`: their counts grow with age)
so there is something to read, asks `POST /analytics/sync`, and prints what each platform reported.

Then a campaign: three emails 5 seconds apart (delays in seconds, allowed under `tidings dev`) to three
sample recipients, scheduled at the next whole minute in New York (at least 15 s away: `sendTime` has
no seconds). The demo prints each email's planned sends (`GET /campaigns/{id}/sends`: the local time
and zone, and UTC), then each email as the local SES front records it (`emails: <URL>`: recipient,
subject, time, and how long after its planned time), and the campaign's final status and stats.

Then the comments: the demo user allows hiding (`PUT /comments/settings`, with the voice replies are
drafted in), and four comments come to the published posts on the fake platforms: a question about a
viewing, a spam link and an insult by Meta's signed webhook (the fake's `POST /_comments` with
`webhook`), a praise on YouTube by the read of the watched posts (`POST /comments/sync`). The demo
prints each as it arrives, its analysis (sentiment, decision), the spam and the insult hidden on their
platforms, the reply drafted for the question, approved (`POST /comments/{id}/reply/approve`) and
posted, and what the fake platforms received (their `/_received`: the reply once, each hide).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

FINAL = {"published", "partially_published", "failed", "cancelled"}
CAMPAIGN_FINAL = {"completed", "failed", "cancelled"}
CAMPAIGN_ZONE = "America/New_York"
CAMPAIGN_SPARE_SECONDS = 15  # the first email at the next whole minute at least this far away
CAMPAIGN_DELAY_SECONDS = 5
CAMPAIGN_RECIPIENTS = (
    ("ana@harbour.example", "Ana"),
    ("ben@harbour.example", "Ben"),
    ("cleo@harbour.example", "Cleo"),
)
CAMPAIGN = {
    "name": "Demo: open house weekend",
    "template": "custom",
    "emailCount": 3,
    "delayDays": CAMPAIGN_DELAY_SECONDS,
    "delayUnit": "seconds",
    "topic": "Open house weekend at 12 Harbour Lane",
    "customization": {"tone": "friendly", "brandVoice": {"name": "Harbour Homes"}},
    "variables": {"agentName": "Sam Rivera"},
    "recipients": [{"email": email, "firstName": name} for email, name in CAMPAIGN_RECIPIENTS],
}
COMMENT_SETTINGS = {
    "allowHide": True,
    "tone": "friendly",
    "brandName": "Harbour Homes",
    "signature": "- Sam, Harbour Homes",
}
COMMENTS_WAIT_SECONDS = 30  # for the comments to be analysed, hidden and answered


@dataclass(frozen=True)
class DemoComment:
    platform: str
    text: str
    author: str
    webhook: bool  # sent by Meta's signed webhook; otherwise left for the read of the watched posts


COMMENTS = (
    DemoComment(
        "facebook", "Love that kitchen! Can I book a viewing on Saturday morning?", "Priya Shah", True
    ),
    DemoComment("youtube", "What a beautiful garden, love the light in it", "Tom Okafor", False),
    DemoComment("facebook", "Earn $5000 a week from home!! bit.ly/cash4u bit.ly/cash4you", "Deals4U", True),
    DemoComment("instagram", "You are a bunch of idiots, this listing is garbage", "angry_anon", True),
)


@dataclass(frozen=True)
class DemoPost:
    seconds_ahead: int
    platforms: tuple[str, ...]
    content: str
    media: tuple[str, ...] = ()


SAMPLES = (
    DemoPost(5, ("twitter", "linkedin"), "Open house this Saturday, 10am to 2pm. Coffee's on us!"),
    DemoPost(
        10,
        ("facebook", "instagram"),
        "Sunlight all afternoon in the new listing's kitchen.",
        ("kitchen.jpg",),
    ),
    DemoPost(15, ("youtube", "tiktok"), "A 30-second walk through the garden flat.", ("walkthrough.mp4",)),
)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class _PlannedEmail:
    n: int
    send_at: datetime  # UTC
    timezone: str  # the recipients' zone (the campaign's: they have none of their own)
    recipients: list[str] = field(default_factory=list)


@dataclass
class _Tracked:
    post_id: str
    sample: DemoPost
    scheduled: datetime
    status: str = "scheduled"
    reported: set[str] = field(default_factory=set)


class Demo:
    def __init__(
        self,
        api_url: str,
        token: str,
        fake_url: str,
        say: Callable[[str], None],
        *,
        emails_url: str = "",
        poll_seconds: float = 0.1,
    ) -> None:
        self.api_url = api_url
        self.fake_url = fake_url
        self.emails_url = emails_url  # the local SES front's record of what was sent; "": no campaign
        self.say = say
        self.poll_seconds = poll_seconds
        self._http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lateness_ms: list[float] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_safely, name="demo", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._http.close()

    def _run_safely(self) -> None:
        try:
            self.run()
        except Exception as exc:  # the demo must never take the stack down
            self.say(f"demo: stopped: {type(exc).__name__}: {exc}")

    def run(self) -> None:
        tracked = [self._schedule(sample) for sample in SAMPLES]
        pending = [t for t in tracked if t is not None]
        while pending and not self._stop.is_set():
            for item in list(pending):
                if self._check(item):
                    pending.remove(item)
            self._stop.wait(self.poll_seconds)
        if self._stop.is_set():
            return
        done = [t for t in tracked if t is not None]
        self._summary(done)
        self._metrics(done)
        if self.emails_url and not self._stop.is_set():
            self._campaign()
        if not self._stop.is_set():
            self._comments(done)

    def _schedule(self, sample: DemoPost) -> _Tracked | None:
        due = (datetime.now(UTC) + timedelta(seconds=sample.seconds_ahead)).replace(microsecond=0)
        body: dict[str, Any] = {
            "content": sample.content,
            "platforms": list(sample.platforms),
            "scheduledTime": due.isoformat(),
            "hashtags": ["TidingsDemo"],
        }
        if sample.media:
            body["mediaUrls"] = [f"{self.fake_url}/_media/{name}" for name in sample.media]
        resp = self._http.post(f"{self.api_url}/posts", json=body)
        if resp.status_code != 201:
            where = ", ".join(sample.platforms)
            self.say(f"demo: could not schedule a post on {where}: {resp.status_code} {resp.text}")
            return None
        post = resp.json()
        scheduled = _parse(post["scheduledTime"])
        self.say(
            f"demo: {post['postId']} scheduled for {scheduled.strftime('%H:%M:%S')} UTC "
            f"on {', '.join(sample.platforms)}"
        )
        return _Tracked(post["postId"], sample, scheduled)

    def _check(self, item: _Tracked) -> bool:
        """Print what changed; True once the post reached a final status."""
        resp = self._http.get(f"{self.api_url}/posts/{item.post_id}")
        if resp.status_code != 200:
            return False
        post = resp.json()
        status = post["status"]
        if status != item.status and status not in FINAL:
            self.say(f"demo: {item.post_id} {status}")
        item.status = status
        for result in post.get("results", []):
            platform = result["platform"]
            if platform in item.reported or result.get("status") not in ("published", "failed"):
                continue
            item.reported.add(platform)
            if result["status"] == "published" and result.get("publishedAt"):
                late = (_parse(result["publishedAt"]) - item.scheduled).total_seconds() * 1000
                self.lateness_ms.append(late)
                self.say(
                    f"demo: {item.post_id} published on {platform} {late:+.0f} ms after its time: "
                    f"{result.get('url') or result.get('platformPostId')}"
                )
            else:
                error = result.get("lastError") or {}
                self.say(
                    f"demo: {item.post_id} failed on {platform}: {error.get('message', 'unknown error')}"
                )
        if status in FINAL:
            reason = f" ({post['finalReason']})" if post.get("finalReason") else ""
            self.say(f"demo: {item.post_id} {status}{reason}")
            return True
        return False

    def _summary(self, tracked: list[_Tracked]) -> None:
        try:
            received = httpx.get(f"{self.fake_url}/_received", timeout=10).json()
        except httpx.HTTPError:
            received = []
        expected = sum(len(t.sample.platforms) for t in tracked)
        texts = {t.sample.content for t in tracked}
        got = sum(1 for r in received if any(str(r.get("text", "")).startswith(text) for text in texts))
        worst = max(self.lateness_ms) if self.lateness_ms else float("nan")
        self.say(
            f"demo: done: the fake platforms received {got} of {expected} publishes; "
            f"latest {worst:.0f} ms after its time (see {self.fake_url}/_received)"
        )

    # -- metrics ----------------------------------------------------------------------------------

    def _metrics(self, tracked: list[_Tracked]) -> None:
        posts = {t.post_id: self._http.get(f"{self.api_url}/posts/{t.post_id}").json() for t in tracked}
        published = {
            post_id: [r for r in post.get("results", []) if r.get("status") == "published"]
            for post_id, post in posts.items()
        }
        if not self._wait_for_tracking(published):
            self.say("demo: metrics: collection did not start for every post; see GET /analytics/posts/{id}")
            return
        aged = (datetime.now(UTC) - timedelta(days=3)).isoformat()
        for results in published.values():
            for result in results:
                body = {
                    "platform": result["platform"],
                    "postId": result["platformPostId"],
                    "publishedAt": aged,
                }
                httpx.post(f"{self.fake_url}/_metrics", json=body, timeout=10)
        self.say("demo: metrics: the posts were aged three days on the fake platforms; syncing analytics")
        sync = self._http.post(f"{self.api_url}/analytics/sync", json={})
        if sync.status_code != 200:
            self.say(f"demo: metrics: sync answered {sync.status_code} {sync.text}")
            return
        for post_id in published:
            view = self._http.get(f"{self.api_url}/analytics/posts/{post_id}").json()
            for item in view.get("platforms", []):
                self.say(f"demo: {post_id} on {item['platform']}: {_describe(item)}")
        self.say(
            f"demo: metrics: {sync.json()['metricsCollected']} read; the next readings follow the cadence"
        )

    def _wait_for_tracking(self, published: dict[str, list[dict[str, Any]]], timeout: float = 30) -> bool:
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while datetime.now(UTC) < deadline and not self._stop.is_set():
            tracked = 0
            for post_id, results in published.items():
                view = self._http.get(f"{self.api_url}/analytics/posts/{post_id}").json()
                tracked += int(len(view.get("platforms", [])) >= len(results))
            if tracked == len(published):
                return True
            self._stop.wait(0.5)
        return False

    # -- a campaign ---------------------------------------------------------------------------------

    def _campaign(self) -> None:
        created = self._http.post(f"{self.api_url}/campaigns", json=CAMPAIGN)
        if created.status_code != 201:
            self.say(f"demo: campaign: could not create it: {created.status_code} {created.text}")
            return
        campaign_id = created.json()["campaignId"]
        zone = ZoneInfo(CAMPAIGN_ZONE)
        start = _next_minute(datetime.now(zone), CAMPAIGN_SPARE_SECONDS)
        scheduled = self._http.post(
            f"{self.api_url}/campaigns/{campaign_id}/schedule",
            json={
                "startDate": start.date().isoformat(),
                "sendTime": {"hour": start.hour, "minute": start.minute},
                "timezone": CAMPAIGN_ZONE,
            },
        )
        if scheduled.status_code != 200:
            self.say(f"demo: campaign: could not schedule it: {scheduled.status_code} {scheduled.text}")
            return
        self.say(
            f"demo: campaign {campaign_id}: {CAMPAIGN['emailCount']} emails "
            f"{CAMPAIGN_DELAY_SECONDS} s apart to {len(CAMPAIGN_RECIPIENTS)} recipients, the first at "
            f"{start.strftime('%H:%M')} {CAMPAIGN_ZONE} time "
            f"(in {(start - datetime.now(UTC)).total_seconds():.0f} s)"
        )
        planned = self._planned(campaign_id)
        for email in planned.values():
            local = email.send_at.astimezone(ZoneInfo(email.timezone))
            self.say(
                f"demo: campaign email {email.n} planned for {local.strftime('%H:%M:%S %Z')} local time "
                f"({email.send_at.strftime('%H:%M:%S')} UTC) to {', '.join(email.recipients)}"
            )
        expected = sum(len(email.recipients) for email in planned.values())
        seen = self._watch_emails(campaign_id, planned, expected)
        self._campaign_outcome(campaign_id, seen, expected)

    def _planned(self, campaign_id: str) -> dict[int, _PlannedEmail]:
        """Each email's planned sends (one step: the recipients share the campaign's zone)."""
        resp = self._http.get(f"{self.api_url}/campaigns/{campaign_id}/sends", params={"limit": 100})
        planned: dict[int, _PlannedEmail] = {}
        for row in resp.json().get("sends", []) if resp.status_code == 200 else []:
            if row.get("sendAt"):
                email = planned.setdefault(
                    row["n"], _PlannedEmail(row["n"], _parse(row["sendAt"]), row["timezone"])
                )
                email.recipients.append(row["email"])
        return dict(sorted(planned.items()))

    def _watch_emails(self, campaign_id: str, planned: dict[int, _PlannedEmail], expected: int) -> int:
        """Print each of the campaign's emails as the SES front records it, until all went out (or a
        minute after the last was due); how many did."""
        seen: set[str] = set()
        last_due = max((email.send_at for email in planned.values()), default=datetime.now(UTC))
        deadline = last_due + timedelta(seconds=60)
        while len(seen) < expected and datetime.now(UTC) < deadline and not self._stop.is_set():
            try:
                emails = httpx.get(self.emails_url, timeout=10).json()["emails"]
            except httpx.HTTPError:
                emails = []
            for email in emails:
                tags = email.get("tags") or {}
                if tags.get("tidings_campaign") != campaign_id or email["messageId"] in seen:
                    continue
                seen.add(email["messageId"])
                n = int(tags.get("tidings_email", 0))
                at = _parse(email["sentAt"])
                late = (
                    f" ({(at - planned[n].send_at).total_seconds():+.1f} s after its time)"
                    if n in planned
                    else ""
                )
                self.say(
                    f"demo: campaign email {n} sent to {', '.join(email['to'])} at "
                    f"{at.strftime('%H:%M:%S.%f')[:-3]} UTC{late}: {email['subject']}"
                )
            self._stop.wait(max(self.poll_seconds, 0.25))
        return len(seen)

    def _campaign_outcome(self, campaign_id: str, seen: int, expected: int) -> None:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        stats: dict[str, Any] = {}
        while datetime.now(UTC) < deadline and not self._stop.is_set():
            stats = self._http.get(f"{self.api_url}/campaigns/{campaign_id}/stats").json()
            if stats.get("status") in CAMPAIGN_FINAL:
                break
            self._stop.wait(0.5)
        if not stats:
            return
        totals = stats["totals"]
        per_email = ", ".join(f"email {e['n']}: {e['sent']}" for e in stats["emails"])
        self.say(
            f"demo: campaign {campaign_id} {stats['status']}: {totals['sent']} sent ({per_email}), "
            f"{totals['skipped']} skipped, {totals['failed']} failed; the SES front recorded {seen} of "
            f"{expected} (see {self.emails_url})"
        )

    # -- comments ---------------------------------------------------------------------------------

    def _comments(self, tracked: list[_Tracked]) -> None:
        on_platform: dict[str, tuple[str, str]] = {}  # platform -> (Tidings post id, platform post id)
        for t in tracked:
            post = self._http.get(f"{self.api_url}/posts/{t.post_id}").json()
            for result in post.get("results", []):
                if result.get("status") == "published" and result.get("platformPostId"):
                    on_platform[result["platform"]] = (t.post_id, result["platformPostId"])
        settings = self._http.put(f"{self.api_url}/comments/settings", json=COMMENT_SETTINGS)
        if settings.status_code != 200:
            self.say(f"demo: comments: could not set hiding: {settings.status_code} {settings.text}")
            return
        self.say(
            "demo: comments: hiding allowed (PUT /comments/settings); replies drafted in a "
            f"{COMMENT_SETTINGS['tone']} voice for {COMMENT_SETTINGS['brandName']}, posted once approved"
        )
        # the webhooks first, each followed until it arrived, so the read after them finds only the
        # comment the platform sends no webhook for
        hooked = [self._add_comment(c, on_platform) for c in COMMENTS if c.webhook]
        watched = [w for w in hooked if w is not None]
        self._follow_comments(watched, lambda w: w.arrived)
        read = [self._add_comment(c, on_platform) for c in COMMENTS if not c.webhook]
        if any(w is not None for w in read):
            watched += [w for w in read if w is not None]
            self._sync_comments()
        self._follow_comments(watched, lambda w: w.settled)
        question = next((w for w in watched if w.decision == "needs_response" and w.draft), None)
        posted = self._approve(question) if question is not None else None
        self._comments_outcome(watched, question, posted)

    def _add_comment(
        self, sample: DemoComment, on_platform: dict[str, tuple[str, str]]
    ) -> _WatchedComment | None:
        if sample.platform not in on_platform:
            self.say(
                f"demo: comments: could not comment on {sample.platform}: no demo post was published there"
            )
            return None
        post_id, platform_post_id = on_platform[sample.platform]
        body = {
            "platform": sample.platform,
            "postId": platform_post_id,
            "text": sample.text,
            "author": {"id": f"demo-{sample.author.lower().replace(' ', '-')}", "name": sample.author},
            "webhook": sample.webhook,
        }
        resp = httpx.post(f"{self.fake_url}/_comments", json=body, timeout=10)
        if resp.status_code != 201:
            self.say(
                f"demo: comments: could not comment on {sample.platform}: {resp.status_code} {resp.text}"
            )
            return None
        added = resp.json()
        if sample.webhook:
            delivery = added.get("webhook") or {}
            how = f"sent by Meta's signed webhook (answered {delivery.get('status', delivery.get('error'))})"
        else:
            how = "left for the read of the watched posts"
        self.say(f'demo: {sample.author} commented on {post_id} on {sample.platform}, {how}: "{sample.text}"')
        return _WatchedComment(f"{sample.platform}.{added['commentId']}", added["commentId"], sample)

    def _sync_comments(self) -> None:
        """Read the watched posts now (once more after the wait a recent sync asks for)."""
        for _ in range(2):
            sync = self._http.post(f"{self.api_url}/comments/sync", json={})
            if sync.status_code == 200:
                read = sync.json()
                self.say(
                    f"demo: comments: POST /comments/sync read {read['postsRead']} watched posts: "
                    f"{read['commentsSeen']} comments, {read['commentsNew']} new"
                )
                return
            if sync.status_code != 429:
                break
            wait = float(sync.json().get("details", {}).get("retryAfterSeconds", 60))
            self.say(f"demo: comments: synced a moment ago; reading again in {wait:.0f} s")
            self._stop.wait(wait)
        self.say(f"demo: comments: sync answered {sync.status_code} {sync.text}")

    def _follow_comments(
        self, watched: list[_WatchedComment], done: Callable[[_WatchedComment], bool]
    ) -> None:
        """Print each comment's arrival, analysis, hide and drafted reply, until each is `done`."""
        deadline = datetime.now(UTC) + timedelta(seconds=COMMENTS_WAIT_SECONDS)
        pending = [w for w in watched if not done(w)]
        while pending and datetime.now(UTC) < deadline and not self._stop.is_set():
            for item in list(pending):
                resp = self._http.get(f"{self.api_url}/comments/{item.comment_id}")
                if resp.status_code == 200:
                    self._comment_news(item, resp.json())
                if done(item):
                    pending.remove(item)
            self._stop.wait(max(self.poll_seconds, 0.25))
        for item in pending:
            self.say(f"demo: comment {item.comment_id} not settled within {COMMENTS_WAIT_SECONDS} s")

    def _comment_news(self, item: _WatchedComment, comment: dict[str, Any]) -> None:
        """Print what is new about the comment; settled once nothing more is to come before approval."""
        if not item.arrived:
            item.arrived = True
            how = "by webhook" if comment["source"] == "webhook" else "by the read of its post"
            self.say(f"demo: comment {item.comment_id} arrived {how}")
        analysis = comment.get("analysis")
        if not analysis or item.settled:
            return
        if item.decision is None:
            item.decision = analysis["decision"]
            self.say(
                f"demo: comment {item.comment_id} analysed: sentiment {analysis['sentiment']}, "
                f"decision {analysis['decision']} ({_why(analysis)})"
            )
        if item.decision == "hide" and comment["status"] == "hidden":
            item.hidden = item.settled = True
            self.say(f"demo: comment {item.comment_id} hidden on {item.sample.platform}")
        elif item.decision == "needs_response" and (comment.get("reply") or {}).get("draft"):
            item.draft = comment["reply"]["draft"]
            item.settled = True
            self.say(f'demo: reply drafted for {item.comment_id}: "{item.draft}"')
        elif item.decision not in ("hide", "needs_response"):
            item.settled = True

    def _approve(self, item: _WatchedComment) -> dict[str, Any] | None:
        resp = self._http.post(f"{self.api_url}/comments/{item.comment_id}/reply/approve", json={})
        if resp.status_code != 200:
            self.say(f"demo: reply to {item.comment_id}: approval answered {resp.status_code} {resp.text}")
            return None
        reply: dict[str, Any] = resp.json()["reply"]
        self.say(
            f"demo: reply to {item.comment_id} approved (POST /comments/{{id}}/reply/approve) and "
            f"{reply['state']} on {item.sample.platform} as {reply['platformReplyId']}"
        )
        return reply

    def _comments_outcome(
        self, watched: list[_WatchedComment], question: _WatchedComment | None, posted: dict[str, Any] | None
    ) -> None:
        try:
            received = httpx.get(f"{self.fake_url}/_received", timeout=10).json()
        except httpx.HTTPError:
            received = []
        platform_ids = {w.platform_comment_id for w in watched}
        hides = [r for r in received if r.get("action") == "hide" and r.get("commentId") in platform_ids]
        replies = [
            r
            for r in received
            if r.get("action") == "reply"
            and question is not None
            and r.get("commentId") == question.platform_comment_id
        ]
        analysed = sum(1 for w in watched if w.decision is not None)
        hidden = sum(1 for w in watched if w.hidden)
        reply_text = "1 reply posted" if posted and posted.get("state") == "posted" else "no reply posted"
        self.say(
            f"demo: comments: done: {analysed} of {len(COMMENTS)} comments analysed, {hidden} hidden, "
            f"{reply_text}; the fake platforms received {len(hides)} hides and the reply "
            f"{_times(len(replies))} (see {self.fake_url}/_received)"
        )


@dataclass
class _WatchedComment:
    comment_id: str  # Tidings': <platform>.<the platform's id>
    platform_comment_id: str
    sample: DemoComment
    arrived: bool = False
    decision: str | None = None
    draft: str | None = None
    hidden: bool = False
    settled: bool = False  # analysed, and hidden or its reply drafted when it asks for either


def _why(analysis: dict[str, Any]) -> str:
    """The decision's reasons, the spam and toxicity ones with what was found."""
    found = {"spam": analysis["spamReasons"], "toxic": analysis["toxicityLabels"]}
    return ", ".join(
        f"{reason}: {', '.join(found[reason])}" if found.get(reason) else reason
        for reason in analysis["reasons"]
    )


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _next_minute(now: datetime, spare_seconds: int) -> datetime:
    """The first whole minute at least `spare_seconds` after `now`."""
    earliest = now + timedelta(seconds=spare_seconds)
    minute = earliest.replace(second=0, microsecond=0)
    return minute if minute == earliest else minute + timedelta(minutes=1)


def _describe(item: dict[str, Any]) -> str:
    latest = item.get("latest")
    if not latest:
        return f"no metrics yet ({item['collection']['status']})"
    shown = ", ".join(
        f"{latest[k]:,} {k}" for k in ("views", "reach", "likes", "comments", "shares") if latest.get(k)
    )
    rate = latest.get("engagementRate")
    rate_text = f", engagement rate {rate:.1%}" if rate is not None else ""
    return f"{shown or 'nothing reported'}{rate_text}"
