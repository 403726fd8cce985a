"""`tidings dev --demo`: a client of the local HTTP API showing posts go out at their second.

It schedules three sample posts 5, 10 and 15 seconds ahead, two platforms each (so the minimum gap
between two posts on one platform is never in the way), with media on the fake's `/_media` where a
platform needs it, then prints each post's progress, scheduled -> publishing -> published, with the
per-platform URL and lateness (publishedAt - scheduledTime, in ms), and checks what the fake
platforms really received.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

FINAL = {"published", "partially_published", "failed", "cancelled"}


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
        poll_seconds: float = 0.1,
    ) -> None:
        self.api_url = api_url
        self.fake_url = fake_url
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
        self._summary([t for t in tracked if t is not None])

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
