"""Actions that go through the scheduler: schedule a post, publish one now, wait until a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tidings.core.clock import parse_offset_time
from tidings.core.errors import Conflict, TidingsError
from tidings.core.platforms import Platform
from tidings.workflows.action import ActionContext, ActionFailed, ActionWait, is_reference
from tidings.workflows.content.client import CLIENT_PARAMS, check_client_params

_POST_FIELDS = {
    "content",
    "platforms",
    "hashtags",
    "mediaUrls",
    "link",
    "contentType",
    "timezone",
    "thread",
    *CLIENT_PARAMS,  # a post written for a CRM client: its texts are templates rendered for it
}


def _check_post_params(params: dict[str, Any], extra: set[str]) -> list[str]:
    problems = [f"unknown parameter {k!r}" for k in params if k not in _POST_FIELDS | extra]
    if "content" not in params:
        problems.append("content is required")
    problems += check_client_params(params)
    platforms = params.get("platforms")
    if platforms is not None and not is_reference(platforms):
        if not isinstance(platforms, list) or not platforms:
            problems.append("platforms must be a non-empty list")
        else:
            known = {p.value for p in Platform}
            problems += [
                f"unknown platform {p!r}" for p in platforms if not is_reference(p) and p not in known
            ]
    return problems


def _platforms(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ActionFailed("platforms must be a list of platform names", code="invalid_parameters")


def _new_post(params: dict[str, Any], scheduled_time: datetime | None) -> Any:
    from tidings.scheduling.personalization import ClientContent
    from tidings.scheduling.service import NewPost

    content = params.get("content")
    if not isinstance(content, str):
        raise ActionFailed("content must be text", code="invalid_parameters")
    return NewPost(
        content=content,
        platforms=_platforms(params.get("platforms")),
        scheduled_time=scheduled_time,
        hashtags=tuple(str(h) for h in params.get("hashtags") or ()),
        media_urls=tuple(str(u) for u in params.get("mediaUrls") or ()),
        link=params.get("link"),
        content_type=params.get("contentType"),
        timezone=params.get("timezone"),
        thread=tuple(str(t) for t in params.get("thread") or ()),
        client=_client(params, ClientContent),
    )


def _client(params: dict[str, Any], make: Any) -> Any:
    client_id = params.get("clientId")
    if client_id is None:
        return None
    variables, fallbacks = params.get("variables") or {}, params.get("fallbacks") or {}
    if not isinstance(variables, dict) or not isinstance(fallbacks, dict):
        raise ActionFailed("variables and fallbacks must be objects", code="invalid_parameters")
    integration = params.get("integrationId")
    return make(
        client_id=str(client_id),
        integration_id=str(integration) if integration is not None else None,
        variables=variables,
        fallbacks={str(k): str(v) for k, v in fallbacks.items()},
    )


def _refused(exc: TidingsError) -> ActionFailed:
    # the scheduler's rules refused it: running the step again would be refused the same way, unless
    # the queue was busy or the client's CRM was unavailable for a while
    retryable = exc.code == "queue_busy" or exc.status == 503
    return ActionFailed(f"{exc.code}: {exc.message}", code=exc.code, retryable=retryable)


def _parse_time(value: Any) -> datetime:
    try:
        return parse_offset_time(value)
    except ValueError as exc:
        raise ActionFailed(str(exc), code="invalid_parameters") from None


class SchedulePost:
    name = "schedule_post"
    description = (
        "Schedule a post through the scheduler: at `scheduledTime`, or at the optimal time when it is "
        "omitted; the scheduler's rules (limits, queue, gaps) apply."
    )

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return _check_post_params(params, {"scheduledTime"})

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        when = params.get("scheduledTime")
        req = _new_post(params, _parse_time(when) if when else None)
        try:
            post = ctx.services.scheduling().schedule(ctx.user_id, req)
        except TidingsError as exc:
            raise _refused(exc) from None
        output: dict[str, Any] = {
            "postId": post.post_id,
            "scheduledTime": post.scheduled_time.isoformat(),
            "platforms": [str(p) for p in post.platforms],
            "optimizedTime": post.optimized_time,
        }
        if post.personalization is not None:  # written for a CRM client: the text as rendered for it
            output["content"] = post.content
            done = post.personalization
            output["client"] = {
                "clientId": done.client_id,
                "integrationId": done.integration_id,
                "provider": done.provider,
                "fields": done.fields,
            }
        return output


class SchedulePosts:
    name = "schedule_posts"
    description = "Schedule several posts at once (`posts`: a list of schedule_post parameters)."

    def check_params(self, params: dict[str, Any]) -> list[str]:
        posts = params.get("posts")
        if is_reference(posts):
            return [f"unknown parameter {k!r}" for k in params if k != "posts"]
        if not isinstance(posts, list) or not posts:
            return ["posts must be a non-empty list"]
        return [
            f"posts[{i}]: {m}" for i, p in enumerate(posts) for m in _check_post_params(p, {"scheduledTime"})
        ]

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        posts = params.get("posts")
        if not isinstance(posts, list) or not posts:
            raise ActionFailed("posts must be a non-empty list", code="invalid_parameters")
        reqs = [
            _new_post(p, _parse_time(p["scheduledTime"]) if p.get("scheduledTime") else None) for p in posts
        ]
        results = ctx.services.scheduling().schedule_batch(ctx.user_id, reqs)
        scheduled = []
        refused = []
        for index, result in enumerate(results):
            if isinstance(result, TidingsError):
                refused.append({"index": index, "code": result.code, "message": result.message})
            elif isinstance(result, Exception):
                raise result
            else:
                scheduled.append(
                    {"postId": result.post_id, "scheduledTime": result.scheduled_time.isoformat()}
                )
        if refused and not scheduled:
            raise ActionFailed(
                f"every post was refused: {refused[0]['code']}: {refused[0]['message']}", code="refused"
            )
        return {"scheduled": scheduled, "refused": refused, "count": len(scheduled)}


class PublishNow:
    name = "publish_now"
    description = "Publish a post at once through the publish state machine; a result per platform."

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return _check_post_params(params, set())

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            outcome = ctx.services.scheduling().publish_now(ctx.user_id, _new_post(params, None))
        except (Conflict, TidingsError) as exc:
            raise _refused(exc) from None
        post = outcome.post
        return {
            "postId": post.post_id,
            "status": str(post.status),
            "complete": outcome.complete,
            "results": {
                str(p): {"status": str(post.result_for(p).status), "url": post.result_for(p).url}
                for p in post.platforms
            },
        }


class WaitUntil:
    name = "wait_until"
    description = "Wait until `until` (ISO 8601 with an offset), or for `seconds`."

    def check_params(self, params: dict[str, Any]) -> list[str]:
        if ("until" in params) == ("seconds" in params):
            return ["give either until or seconds"]
        seconds = params.get("seconds")
        bad = not isinstance(seconds, int | float) or not 0 <= seconds <= 365 * 86_400
        if seconds is not None and not is_reference(seconds) and bad:
            return ["seconds must be a number from 0 to a year"]
        return [f"unknown parameter {k!r}" for k in params if k not in ("until", "seconds")]

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        now = ctx.clock.now()
        if "until" in params:
            until = _parse_time(params["until"])
        else:
            # counted from the step's first run
            until = (ctx.step_started_at or now) + timedelta(seconds=float(params["seconds"]))
        if now < until:
            raise ActionWait(until)
        return {"waitedUntil": until.isoformat()}


SCHEDULE_POST = SchedulePost()
SCHEDULE_POSTS = SchedulePosts()
PUBLISH_NOW = PublishNow()
WAIT_UNTIL = WaitUntil()
