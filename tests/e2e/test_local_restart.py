"""A stack a small business can leave running: stopped with Ctrl-C or killed with -9 and started again
on the same state directory, it still has its posts, accounts and sealed credentials, and a post
that fell due while it was down goes out once; a second stack on the same directory is refused."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from e2e_support import eventually

RunningDev = Any  # tests/e2e/conftest.py
ROOT = Path(__file__).resolve().parents[2]
TIDINGS = str(Path(sys.executable).with_name("tidings"))

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _tidings(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TIDINGS, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _api(dev: RunningDev, token: str, method: str, path: str, **kwargs: Any) -> Any:
    resp = httpx.request(
        method, f"{dev.api_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs
    )
    assert resp.status_code < 300, resp.text
    return resp.json()


def _schedule(dev: RunningDev, token: str, text: str, when: datetime) -> str:
    body = {"content": text, "platforms": ["facebook", "twitter"], "scheduledTime": when.isoformat()}
    post_id: str = _api(dev, token, "POST", "/posts", json=body)["postId"]
    return post_id


def _received(dev: RunningDev, text: str) -> list[str]:
    return sorted(
        r["platform"]
        for r in httpx.get(f"{dev.fake_url}/_received", timeout=10).json()
        if r["text"].startswith(text)
    )


def _started(state: Path, post_id: str) -> bool:
    """Whether the running stack's moto holds an execution of the post's publication: schedule_sync
    starts one from the post's stream record when the post is due within the schedule lead (2
    minutes), waiting in it until the post's time."""
    stack = json.loads((state / "stack.json").read_text())
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=stack["urls"]["moto"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    arn = stack["env"]["TIDINGS_PUBLISH_STATE_MACHINE_ARN"]
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    return any(e["name"].startswith(f"post-{post_id}-") for e in executions)


def _status(dev: RunningDev, token: str, post_id: str) -> dict[str, Any]:
    post: dict[str, Any] = _api(dev, token, "GET", f"/posts/{post_id}")
    return post


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_a_restarted_stack_keeps_everything_and_sends_what_fell_due_once(
    start_tidings_dev: Callable[..., RunningDev], tmp_path: Path, how: str
) -> None:
    state = tmp_path / "state"
    dev = start_tidings_dev(state_dir=state)
    # Given a user connected through `tidings connect` (tokens sealed in the table), with a post due
    # a few seconds ahead and one due tomorrow
    assert _tidings("connect", "agent-2", "--state-dir", str(state)).returncode == 0
    token = _tidings("token", "agent-2", "--state-dir", str(state)).stdout.strip()
    # And a second stack on the same directory is refused, naming the running one
    refused = _tidings("dev", "--port", "0", "--state-dir", str(state))
    assert refused.returncode == 1
    assert f"PID {dev.process.pid}" in refused.stderr

    # The post due a few seconds ahead is scheduled last, right before the stop: nothing slow (a
    # process started, on a busy machine) may come between, or it goes out before the stop and the
    # restart has nothing to send
    later = _schedule(dev, token, "tomorrow", datetime.now(UTC) + timedelta(days=1))
    soon_text = f"due while down ({how}) {time.time()}"
    due = datetime.now(UTC) + timedelta(seconds=15)
    soon = _schedule(dev, token, soon_text, due)

    # When the stack stops before the post is due, and starts again after
    assert _status(dev, token, soon)["status"] == "scheduled"
    if how == "ctrl-c":
        # once schedule_sync handled the post's record (the post's execution started), Ctrl-C
        eventually(lambda: _started(state, soon), 10, "the post's execution to start")
        assert dev.stop(signal.SIGINT) == 0
        assert not (state / "tidings.lock").exists()
    else:
        dev.kill()
    assert datetime.now(UTC) < due, "the stack stopped after the post was due: the case is not tested"
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 1))
    dev = start_tidings_dev(state_dir=state)

    # Then the posts and the accounts are still there
    assert _status(dev, token, later)["status"] == "scheduled"
    accounts = _api(dev, token, "GET", "/accounts")
    assert len(accounts["accounts"] if isinstance(accounts, dict) else accounts) == 6
    # And the post that fell due while it was down goes out at once, with the tokens sealed before
    # the restart (opened with the kept key, given back to the fake platforms), once per platform
    eventually(lambda: _status(dev, token, soon)["status"] == "published", 60, "the due post to go out")
    assert _received(dev, soon_text) == ["facebook", "twitter"]
    time.sleep(2)
    assert _received(dev, soon_text) == ["facebook", "twitter"]
    # And `tidings status` says the stack runs, where, what it holds and what the start rebuilt
    status = _tidings("status", "--state-dir", str(state)).stdout
    assert f"stack: running (PID {dev.process.pid})" in status
    assert f"  api: {dev.api_url}" in status
    assert "scheduled posts: 1" in status
    assert "last reconcile: " in status
    rebuilt = [line for line in dev.output if line.startswith("... schedules rebuilt:")]
    # After Ctrl-C the stream pollers (they start before the rebuild) deliver no record they handled
    # before the stop, so the rebuild is what starts the due post. After a kill -9 they may deliver
    # again what they handled in the last second before it, the post's record among them: the rebuild
    # then finds the post already going out and counts nothing for it. Either way it went out once.
    sent_now = "1" if how == "ctrl-c" else "[01]"
    assert re.search(rf"postsStartedNow {sent_now}\b", status), status
    started = rf"\.\.\. schedules rebuilt: [12] posts, {sent_now} due posts sent now, 0 missed"
    assert re.match(started, rebuilt[0]), rebuilt
    assert dev.stop(signal.SIGINT) == 0
    assert "stack: not running" in _tidings("status", "--state-dir", str(state)).stdout


def test_a_post_due_longer_ago_than_the_limit_is_marked_missed(
    start_tidings_dev: Callable[..., RunningDev], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    dev = start_tidings_dev(state_dir=state)
    due = datetime.now(UTC) + timedelta(seconds=10)
    post_id = _schedule(dev, dev.token, "too late", due)
    assert _status(dev, dev.token, post_id)["status"] == "scheduled"
    assert dev.stop(signal.SIGINT) == 0
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 2))

    # When the stack starts again with a limit shorter than its time down
    dev = start_tidings_dev(state_dir=state, args=["--missed-after", "1"])

    # Then the post is not sent late: GET /posts shows it failed with the reason
    post = _status(dev, dev.token, post_id)
    assert post["status"] == "failed"
    assert post["finalReason"].startswith("missed: due at ")
    assert _received(dev, "too late") == []
    assert dev.stop(signal.SIGINT) == 0


def _step(workflow: dict[str, Any], step_id: str) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in workflow["steps"] if s["stepId"] == step_id)
    return step


def test_a_workflow_waiting_for_approval_survives_a_restart_and_completes_once_approved(
    start_tidings_dev: Callable[..., RunningDev], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    dev = start_tidings_dev(state_dir=state)
    token = _tidings("token", "agent-wf", "--state-dir", str(state)).stdout.strip()
    # Given a workflow whose draft waits for an approval
    body = {
        "template": "content-to-social",
        "parameters": {"topic": "Harbour open house", "platform": "facebook"},
    }
    wf_id = _api(dev, token, "POST", "/workflows", json=body)["workflowId"]
    _api(dev, token, "POST", f"/workflows/{wf_id}/execute", json={"autoApprove": False})

    def draft_waits() -> bool:
        return bool(
            _step(_api(dev, token, "GET", f"/workflows/{wf_id}"), "draft")["status"] == "awaiting_approval"
        )

    eventually(draft_waits, 60, "the draft to await its approval")

    # When the stack is stopped with Ctrl-C and started again on the same state directory
    assert dev.stop(signal.SIGINT) == 0
    dev = start_tidings_dev(state_dir=state)

    # Then the workflow still waits for the approval, and nothing was scheduled meanwhile
    waiting = _api(dev, token, "GET", f"/workflows/{wf_id}")
    assert waiting["status"] == "active"
    assert _step(waiting, "draft")["status"] == "awaiting_approval"
    assert _step(waiting, "schedule")["status"] == "pending"
    rebuilt = [line for line in dev.output if line.startswith("... schedules rebuilt:")]
    assert ", 1 workflows resumed," in rebuilt[0], rebuilt
    # And once approved it completes, with each step run once and exactly one post scheduled
    _api(dev, token, "POST", f"/workflows/{wf_id}/steps/draft/approve")

    def finished() -> dict[str, Any] | None:
        current: dict[str, Any] = _api(dev, token, "GET", f"/workflows/{wf_id}")
        return current if current["status"] in {"completed", "failed", "cancelled"} else None

    done = eventually(finished, 90, "the approved workflow to finish")
    assert done["status"] == "completed", done
    assert [_step(done, s)["attempts"] for s in ("draft", "schedule")] == [1, 1]
    posts = _api(dev, token, "GET", "/posts")
    listed = posts["posts"] if isinstance(posts, dict) else posts
    assert [p["postId"] for p in listed] == [_step(done, "schedule")["output"]["postId"]]
    assert listed[0]["content"] == _step(done, "draft")["output"]["text"]
    assert dev.stop(signal.SIGINT) == 0


# -- at scale: a kill -9 while posts are being published ------------------------------------------

SCALE_PLATFORMS = ["facebook", "linkedin", "twitter"]


@contextmanager
def _fake_platforms() -> Iterator[str]:
    """A fake platform server of the test's own, outside the stack (`tidings dev --fake-url`): it lives
    through the kill and the restart as a platform would, with what it received (`/_received`) and
    published (the posts read-backs look for)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.local.fakes.platforms", "--port", "0"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        ready = "fake platforms: "
        line = next((raw for raw in proc.stdout if raw.startswith(ready)), "")
        assert line, "the fake platform server did not start"
        yield line[len(ready) :].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _all_received(fake_url: str, run: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{fake_url}/_received", timeout=10).json()
    return [entry for entry in entries if entry["text"].startswith(run)]


def _posts(dev: RunningDev, token: str) -> list[dict[str, Any]]:
    page = _api(dev, token, "GET", "/posts", params={"limit": 100})
    listed: list[dict[str, Any]] = page["posts"]
    assert not page.get("nextToken"), "more than one page of posts"
    return listed


@pytest.mark.timeout(900)
def test_a_kill_9_while_posts_go_out_publishes_each_once_on_each_platform(
    start_tidings_dev: Callable[..., RunningDev], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    # A post the kill left `publishing` is resumed by the start's rebuild; the sweeper runs every 5 s
    # instead of every 5 minutes for whatever else it finds.
    # One user's posts a second apart on each platform: the 30-minute gap between posts is off.
    env = {"TIDINGS_API_RATE_PER_SECOND": "0", "TIDINGS_MIN_GAP_MINUTES": "0"}
    with _fake_platforms() as fake_url:
        args = ["--fake-url", fake_url, "--sweep-interval", "5"]
        dev = start_tidings_dev(state_dir=state, env=env, args=args)
        assert dev.fake_url == fake_url
        assert _tidings("connect", "agent-scale", "--state-dir", str(state)).returncode == 0
        token = _tidings("token", "agent-scale", "--state-dir", str(state)).stdout.strip()

        # Given 60 posts on three platforms, due one a second from 30 s ahead
        run = f"scale {time.time()}"
        start = datetime.now(UTC) + timedelta(seconds=30)
        texts: dict[str, str] = {}
        for i in range(60):
            text = f"{run} #{i:02d}. Open house at the harbour this weekend"
            body = {
                "content": text,
                "platforms": SCALE_PLATFORMS,
                "scheduledTime": (start + timedelta(seconds=i)).isoformat(),
            }
            texts[_api(dev, token, "POST", "/posts", json=body)["postId"]] = f"{run} #{i:02d}."

        # When the whole runtime is killed with -9 as soon as the first posts reached the platforms
        before = eventually(lambda: _all_received(fake_url, run), 120, "the first posts to go out")
        dev.kill()
        sent_before = _all_received(fake_url, run)
        assert len(sent_before) < 60 * len(SCALE_PLATFORMS), "all went out before the kill: not tested"
        # And started again at once on the same state directory
        dev = start_tidings_dev(state_dir=state, env=env, args=args)

        # Then every post ends published, none left `publishing`
        def settled() -> list[dict[str, Any]] | None:
            listed = [p for p in _posts(dev, token) if p["postId"] in texts]
            done = all(p["status"] in {"published", "failed", "cancelled"} for p in listed)
            return listed if len(listed) == len(texts) and done else None

        final = eventually(settled, 600, "every post to be published or failed")
        assert [p for p in final if p["status"] != "published"] == []
        # And each reached each of its platforms exactly once, through the accounts connected before
        received = _all_received(fake_url, run)
        for post_id, prefix in texts.items():
            platforms = sorted(e["platform"] for e in received if e["text"].startswith(prefix))
            assert platforms == SCALE_PLATFORMS, (post_id, prefix, platforms)
        assert len(received) == 60 * len(SCALE_PLATFORMS)
        accounts = {(e["platform"], e["accountId"]) for e in received}
        assert len(accounts) == len(SCALE_PLATFORMS)
        assert {(e["platform"], e["accountId"]) for e in before} <= accounts

        # And a post scheduled after the restart goes out through the same connected accounts
        after = f"{run} after the restart."
        body = {
            "content": after,
            "platforms": SCALE_PLATFORMS,
            "scheduledTime": (datetime.now(UTC) + timedelta(seconds=3)).isoformat(),
        }
        new_id = _api(dev, token, "POST", "/posts", json=body)["postId"]
        eventually(lambda: _status(dev, token, new_id)["status"] == "published", 60, "the new post to go out")
        new = [e for e in _all_received(fake_url, run) if e["text"].startswith(after)]
        assert sorted((e["platform"], e["accountId"]) for e in new) == sorted(accounts)
        # And nothing more went out meanwhile
        assert len(_all_received(fake_url, run)) == 61 * len(SCALE_PLATFORMS)
        assert dev.stop(signal.SIGINT) == 0
