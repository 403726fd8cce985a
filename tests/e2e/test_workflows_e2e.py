"""End to end: workflows run on the local stack's Step Functions (moto) with the generic state machine:
templates, approval gates on task tokens, fix attempts, pause and resume, cancel, optional steps,
retries, and refused definitions."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import DevStack, Receiver, launch

pytestmark = pytest.mark.e2e

FINAL = {"completed", "failed", "cancelled"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    # webhooks to the test's own local receiver are allowed only because this is the local runtime
    env = {
        "TIDINGS_ALLOW_PRIVATE_LINKS": "true",
        "TIDINGS_MIN_GAP_MINUTES": "0",
        "TIDINGS_TASK_RETRY_INTERVALS": "2,4",
    }
    with launch(tmp_path_factory.mktemp("tidings-workflows"), env=env) as running:
        yield running


def user(stack: DevStack) -> str:
    return stack.token(f"agent-{uuid.uuid4().hex[:8]}")


def create(stack: DevStack, token: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = stack.post("/workflows", token, body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def execute(stack: DevStack, token: str, wf: dict[str, Any], **options: Any) -> None:
    resp = stack.post(f"/workflows/{wf['workflowId']}/execute", token, options)
    assert resp.status_code == 202, resp.text


def wait_until(stack: DevStack, token: str, wf_id: str, done: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = dict(stack.get(f"/workflows/{wf_id}", token).json())
        if done(current) or time.monotonic() > deadline:
            return current
        time.sleep(0.3)


def step_of(wf: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in wf["steps"] if s["stepId"] == step_id)


def finished(wf: dict[str, Any]) -> bool:
    return wf["status"] in FINAL


def test_content_to_social_with_auto_approve_ends_with_a_scheduled_post(stack: DevStack) -> None:
    token = user(stack)
    wf = create(
        stack, token, {"template": "content-to-social", "parameters": {"topic": "Spring Market Update"}}
    )
    execute(stack, token, wf, autoApprove=True)

    done = wait_until(stack, token, wf["workflowId"], finished)

    assert done["status"] == "completed", done
    draft, schedule = step_of(done, "draft"), step_of(done, "schedule")
    assert draft["approval"]["decision"] == "auto_approved"
    post = stack.get(f"/posts/{schedule['output']['postId']}", token).json()
    assert post["status"] == "scheduled"
    assert post["content"] == draft["output"]["text"]
    assert done["metrics"]["completed"] == 2
    assert done["metrics"]["totalDurationMs"] > 0


def test_the_approval_gate_waits_then_approve_continues_and_reject_stops(stack: DevStack) -> None:
    token = user(stack)
    approved = create(stack, token, {"template": "content-to-social", "parameters": {"topic": "Open house"}})
    rejected = create(stack, token, {"template": "content-to-social", "parameters": {"topic": "Price drop"}})
    for wf in (approved, rejected):
        execute(stack, token, wf)
    waiting = [
        wait_until(
            stack, token, wf["workflowId"], lambda w: step_of(w, "draft")["status"] == "awaiting_approval"
        )
        for wf in (approved, rejected)
    ]
    assert [step_of(w, "schedule")["status"] for w in waiting] == ["pending", "pending"]
    time.sleep(1.5)  # nothing moves while the gate waits
    assert (
        step_of(stack.get(f"/workflows/{approved['workflowId']}", token).json(), "schedule")["status"]
        == "pending"
    )

    ok = stack.post(f"/workflows/{approved['workflowId']}/steps/draft/approve", token, None)
    no = stack.post(
        f"/workflows/{rejected['workflowId']}/steps/draft/reject", token, {"reason": "Off-brand tone"}
    )
    assert (ok.status_code, no.status_code) == (200, 200)

    done_ok = wait_until(stack, token, approved["workflowId"], finished)
    done_no = wait_until(stack, token, rejected["workflowId"], finished)
    assert done_ok["status"] == "completed"
    assert step_of(done_ok, "schedule")["output"]["postId"]
    assert done_no["status"] == "failed"
    assert "Off-brand tone" in done_no["failureReason"]
    assert step_of(done_no, "schedule")["status"] == "pending"
    again = stack.post(f"/workflows/{approved['workflowId']}/steps/draft/approve", token, None)
    assert (again.status_code, again.json()["code"]) == (409, "step_not_awaiting_approval")


def test_a_validation_gate_that_fails_twice_passes_after_two_fix_attempts(stack: DevStack) -> None:
    token = user(stack)
    definition = {
        "name": "Fix it up",
        "steps": [
            {
                "id": "draft",
                "action": "generate_content",
                "parameters": {
                    "template": "listing_post",
                    "topic": "Just listed: 12 Oak Street",
                    "platform": "facebook",
                    "brandVoice": {"name": "Oak Realty", "phrases": ["guaranteed returns"]},
                    "details": {
                        "address": "12 Oak Street",
                        "highlights": ["garden", "new kitchen", "garage"],
                    },
                },
                "gates": [
                    {
                        "type": "validation",
                        "rules": {"bannedPhrases": ["guaranteed returns"]},
                        "maxFixAttempts": 2,
                    },
                    {"type": "validation", "rules": {"maxLength": 120}, "maxFixAttempts": 2},
                ],
            }
        ],
    }
    wf = create(stack, token, {"definition": definition})
    execute(stack, token, wf)

    done = wait_until(stack, token, wf["workflowId"], finished)

    draft = step_of(done, "draft")
    assert done["status"] == "completed", done
    assert draft["fixAttempts"] == 2
    assert "guaranteed returns" not in draft["output"]["text"].lower()
    assert len(draft["output"]["text"]) <= 120


def test_pause_holds_new_steps_until_resume(stack: DevStack) -> None:
    token = user(stack)
    definition = {
        "name": "Pause me",
        "steps": [
            {"id": "hold", "action": "wait_until", "parameters": {"seconds": 3}},
            {
                "id": "check",
                "action": "validate_content",
                "dependsOn": ["hold"],
                "parameters": {"text": "Open house Sunday", "rules": {"maxLength": 100}},
            },
        ],
    }
    wf = create(stack, token, {"definition": definition})
    execute(stack, token, wf)
    paused = stack.post(f"/workflows/{wf['workflowId']}/pause", token, None)
    assert paused.status_code == 200, paused.text

    held = wait_until(stack, token, wf["workflowId"], lambda w: step_of(w, "hold")["status"] == "completed")
    time.sleep(3)
    held = stack.get(f"/workflows/{wf['workflowId']}", token).json()
    assert (held["status"], step_of(held, "check")["status"]) == ("paused", "pending")

    assert stack.post(f"/workflows/{wf['workflowId']}/resume", token, None).status_code == 200
    done = wait_until(stack, token, wf["workflowId"], finished)
    assert done["status"] == "completed"
    assert step_of(done, "check")["output"]["valid"] is True


def test_cancel_stops_the_workflow(stack: DevStack) -> None:
    token = user(stack)
    definition = {
        "name": "Long wait",
        "steps": [{"id": "hold", "action": "wait_until", "parameters": {"seconds": 600}}],
    }
    wf = create(stack, token, {"definition": definition})
    execute(stack, token, wf)
    wait_until(stack, token, wf["workflowId"], lambda w: step_of(w, "hold")["status"] == "waiting")

    cancelled = stack.post(f"/workflows/{wf['workflowId']}/cancel", token, None)

    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert step_of(body, "hold")["status"] == "skipped"
    assert stack.post(f"/workflows/{wf['workflowId']}/resume", token, None).status_code == 409
    listed = stack.get("/workflows?status=cancelled", token).json()["workflows"]
    assert [w["workflowId"] for w in listed] == [wf["workflowId"]]


def test_a_failing_optional_step_does_not_block_completion(stack: DevStack) -> None:
    token = user(stack)
    definition = {
        "name": "Optional",
        "steps": [
            {
                "id": "ping",
                "action": "send_notification",
                "optional": True,
                "parameters": {
                    "channel": "webhook",
                    "url": "https://nonexistent.invalid/hook",
                    "payload": {},
                },
            },
            {"id": "check", "action": "validate_content", "parameters": {"text": "Hello there", "rules": {}}},
        ],
    }
    wf = create(stack, token, {"definition": definition})
    execute(stack, token, wf)

    done = wait_until(stack, token, wf["workflowId"], finished)

    assert done["status"] == "completed", done
    assert step_of(done, "ping")["status"] == "skipped"
    assert step_of(done, "ping")["error"]
    assert (done["metrics"]["completed"], done["metrics"]["skipped"]) == (1, 1)


def test_retries_back_off_as_configured(stack: DevStack) -> None:
    token = user(stack)
    receiver = Receiver([503, 503])
    try:
        definition = {
            "name": "Retry",
            "steps": [
                {
                    "id": "ping",
                    "action": "send_notification",
                    "retry": {"attempts": 3, "initialIntervalSeconds": 1, "backoffRate": 3},
                    "parameters": {"channel": "webhook", "url": receiver.url, "payload": {"hello": "world"}},
                }
            ],
        }
        wf = create(stack, token, {"definition": definition})
        execute(stack, token, wf)
        done = wait_until(stack, token, wf["workflowId"], finished)
    finally:
        receiver.close()

    assert done["status"] == "completed", done
    assert step_of(done, "ping")["attempts"] == 3
    gaps = [b - a for a, b in zip(receiver.arrivals, receiver.arrivals[1:], strict=False)]
    assert len(gaps) == 2
    assert gaps[0] >= 1.0
    assert gaps[1] >= 3.0


def test_bad_definitions_and_requests_get_clear_4xx(stack: DevStack) -> None:
    token = user(stack)
    cycle = {
        "name": "Cycle",
        "steps": [
            {
                "id": "a",
                "action": "validate_content",
                "dependsOn": ["b"],
                "parameters": {"text": "x", "rules": {}},
            },
            {
                "id": "b",
                "action": "validate_content",
                "dependsOn": ["a"],
                "parameters": {"text": "x", "rules": {}},
            },
        ],
    }
    unknown = {"name": "Unknown", "steps": [{"id": "a", "action": "teleport"}]}
    bad_ref = {
        "name": "Bad ref",
        "steps": [
            {
                "id": "a",
                "action": "validate_content",
                "parameters": {"text": "${steps.zzz.output.text}", "rules": {}},
            }
        ],
    }
    for definition, code in ((cycle, "cycle"), (unknown, "unknown_action"), (bad_ref, "bad_reference")):
        resp = stack.post("/workflows", token, {"definition": definition})
        assert resp.status_code == 422, resp.text
        assert code in {p["code"] for p in resp.json()["details"]["problems"]}
    template = stack.post("/workflows", token, {"template": "nope"})
    assert (template.status_code, template.json()["code"]) == (422, "unknown_template")
    missing = stack.post("/workflows", token, {"template": "content-to-social", "parameters": {}})
    assert (missing.status_code, missing.json()["code"]) == (422, "invalid_parameters")
    assert stack.get("/workflows/nope", token).status_code == 404
    other = user(stack)
    wf = create(stack, token, {"template": "content-to-social", "parameters": {"topic": "Mine"}})
    assert stack.get(f"/workflows/{wf['workflowId']}", other).status_code == 404
    assert stack.post(f"/workflows/{wf['workflowId']}/execute", other, {}).status_code == 404
    assert stack.post(f"/workflows/{wf['workflowId']}/pause", token, None).status_code == 409
    templates = stack.get("/workflow-templates", token).json()["templates"]
    assert {t["name"] for t in templates} == {
        "content-to-social",
        "listing-campaign",
        "market-analysis-report",
    }


# -- scheduled tasks ---------------------------------------------------------------------------------


def iso_in(seconds: float) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def wait_task(
    stack: DevStack, token: str, task_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = dict(stack.get(f"/tasks/{task_id}", token).json())
        if task["status"] in statuses or time.monotonic() > deadline:
            return task
        time.sleep(0.3)


def test_a_scheduled_action_runs_at_its_time_and_a_failing_one_retries_with_back_off(stack: DevStack) -> None:
    token = user(stack)
    receiver = Receiver([500])  # the first delivery fails, the retry succeeds
    try:
        resp = stack.post(
            "/tasks",
            token,
            {
                "type": "action",
                "scheduledAt": iso_in(3),
                "maxRetries": 2,
                "config": {
                    "action": "send_notification",
                    "parameters": {
                        "channel": "webhook",
                        "url": receiver.url,
                        "payload": {"report": "weekly"},
                    },
                },
            },
        )
        assert resp.status_code == 201, resp.text
        task = resp.json()
        done = wait_task(stack, token, task["taskId"], {"completed", "failed"})
    finally:
        receiver.close()

    assert done["status"] == "completed", done
    assert done["attempts"] == 2
    assert [h["outcome"] for h in done["history"]] == ["failed", "completed"]
    assert len(receiver.arrivals) == 2
    assert receiver.arrivals[1] - receiver.arrivals[0] >= 2.0  # the configured first back-off


def test_a_scheduled_workflow_runs_and_a_cancelled_task_never_does(stack: DevStack) -> None:
    token = user(stack)
    workflow_task = stack.post(
        "/tasks",
        token,
        {
            "type": "workflow",
            "scheduledAt": iso_in(3),
            "config": {
                "template": "content-to-social",
                "parameters": {"topic": "Weekend open houses"},
                "autoApprove": True,
            },
        },
    ).json()
    doomed = stack.post(
        "/tasks",
        token,
        {
            "type": "action",
            "scheduledAt": iso_in(4),
            "config": {"action": "validate_content", "parameters": {"text": "never", "rules": {}}},
        },
    ).json()
    cancelled = stack.delete(f"/tasks/{doomed['taskId']}", token)
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")

    ran = wait_task(stack, token, workflow_task["taskId"], {"completed", "failed"})
    assert ran["status"] == "completed", ran
    wf = wait_until(stack, token, ran["result"]["workflowId"], finished)
    assert wf["status"] == "completed"
    time.sleep(2)
    assert stack.get(f"/tasks/{doomed['taskId']}", token).json()["attempts"] == 0
    stats = stack.get("/tasks/stats", token).json()
    assert stats == {"total": 2, "pending": 0, "running": 0, "completed": 1, "failed": 0, "cancelled": 1}
    again = stack.delete(f"/tasks/{doomed['taskId']}", token)
    assert (again.status_code, again.json()["code"]) == (409, "task_not_cancellable")


def test_bad_tasks_are_refused(stack: DevStack) -> None:
    token = user(stack)
    cases = [
        ({"type": "cron", "scheduledAt": iso_in(60), "config": {}}, "unknown_task_type"),
        (
            {"type": "action", "scheduledAt": iso_in(-60), "config": {"action": "validate_content"}},
            "scheduled_time_in_past",
        ),
        ({"type": "action", "scheduledAt": iso_in(60), "config": {"action": "teleport"}}, "unknown_action"),
        ({"type": "workflow", "scheduledAt": iso_in(60), "config": {"template": "nope"}}, "unknown_template"),
        ({"type": "action", "scheduledAt": iso_in(60), "config": {}, "maxRetries": 99}, "validation_error"),
    ]
    for body, code in cases:
        resp = stack.post("/tasks", token, body)
        assert resp.status_code == 422, resp.text
        assert resp.json()["code"] == code
    assert stack.get("/tasks/nope", token).status_code == 404
    assert stack.get("/tasks/stats", token).json()["total"] == 0


def test_listing_campaign_drafts_a_post_per_platform_and_day_and_schedules_them_once_approved(
    stack: DevStack,
) -> None:
    token = user(stack)
    wf = create(
        stack,
        token,
        {
            "template": "listing-campaign",
            "parameters": {
                "address": "12 Oak Street",
                "price": "$450,000",
                "bedrooms": 3,
                "highlights": ["garden", "new kitchen"],
                "platforms": ["facebook", "linkedin"],
                "days": 2,
                "timezone": "America/Denver",
            },
        },
    )
    execute(stack, token, wf)
    waiting = wait_until(
        stack, token, wf["workflowId"], lambda w: step_of(w, "plan")["status"] == "awaiting_approval"
    )
    plan = step_of(waiting, "plan")["output"]
    assert plan["count"] == 4
    assert stack.post(f"/workflows/{wf['workflowId']}/steps/plan/approve", token, None).status_code == 200

    done = wait_until(stack, token, wf["workflowId"], finished)

    assert done["status"] == "completed", [(s["stepId"], s["status"], s.get("error")) for s in done["steps"]]
    scheduled = step_of(done, "schedule")["output"]["scheduled"]
    assert len(scheduled) == 4
    queue = stack.get("/posts?status=scheduled", token).json()["posts"]
    assert sorted(p["postId"] for p in queue) == sorted(s["postId"] for s in scheduled)
    assert all("12 Oak Street" in p["content"] for p in queue)


def test_market_report_stops_at_its_data_sufficiency_gate_without_enough_analytics(stack: DevStack) -> None:
    token = user(stack)
    wf = create(
        stack,
        token,
        {
            "template": "market-analysis-report",
            "parameters": {"deliverTo": "agent@example.com", "minDataPoints": 5},
        },
    )
    execute(stack, token, wf)

    done = wait_until(stack, token, wf["workflowId"], finished)

    assert done["status"] == "failed"
    gather = step_of(done, "gather")
    assert gather["errorCode"] == "gate_failed"
    assert "dataPoints" in gather["error"]
    assert [step_of(done, s)["status"] for s in ("trends", "report", "deliver")] == ["pending"] * 3


def test_notify_on_completion_posts_the_outcome_to_the_webhook(stack: DevStack) -> None:
    token = user(stack)
    receiver = Receiver([])
    try:
        definition = {
            "name": "Notify me",
            "steps": [
                {"id": "check", "action": "validate_content", "parameters": {"text": "Hello", "rules": {}}}
            ],
        }
        wf = create(stack, token, {"definition": definition})
        execute(stack, token, wf, notifyOnCompletion=True, notify={"channel": "webhook", "url": receiver.url})
        done = wait_until(stack, token, wf["workflowId"], finished)
        deadline = time.monotonic() + 10
        while not receiver.arrivals and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        receiver.close()

    assert done["status"] == "completed"
    assert len(receiver.arrivals) == 1
    import json

    payload = json.loads(receiver.bodies[0])
    assert (payload["event"], payload["workflowId"], payload["status"]) == (
        "workflow.completed",
        wf["workflowId"],
        "completed",
    )
    missing = stack.post(
        f"/workflows/{create(stack, token, {'definition': definition})['workflowId']}/execute",
        token,
        {"notifyOnCompletion": True},
    )
    assert (missing.status_code, missing.json()["code"]) == (422, "invalid_notify")


def test_webhooks_and_notifications_cannot_reach_the_runtimes_own_ports(stack: DevStack) -> None:
    token = user(stack)
    urls = stack.stack_info()["urls"]
    forged = {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": "someone-else"}}}}}
    # A workflow's webhook notification aimed at the lambda host with a forged API event
    definition = {
        "name": "Forge",
        "steps": [
            {
                "id": "ping",
                "action": "send_notification",
                "parameters": {
                    "channel": "webhook",
                    "url": f"{urls['lambdaHost']}/invoke/http_api",
                    "payload": forged,
                },
            }
        ],
    }
    wf = create(stack, token, {"definition": definition})
    execute(stack, token, wf)
    done = wait_until(stack, token, wf["workflowId"], finished)

    assert done["status"] == "failed", done
    assert step_of(done, "ping")["errorCode"] == "url_refused"
    # Webhooks registered at DynamoDB Local, moto, the lambda host or the API are refused; the fake
    # platforms stay reachable
    for own in ("dynamodb", "moto", "lambdaHost", "api"):
        resp = stack.post("/webhooks", token, {"url": f"{urls[own]}/hook", "events": ["post.failed"]})
        assert (resp.status_code, resp.json()["code"]) == (422, "url_refused"), own
    fake = stack.post("/webhooks", token, {"url": f"{urls['fakePlatforms']}/hook", "events": ["post.failed"]})
    assert fake.status_code == 201, fake.text
