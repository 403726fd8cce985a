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
