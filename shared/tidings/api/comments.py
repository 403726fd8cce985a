"""HTTP routes of the comments on the user's posts: list and read them, sync now, hide one on its
platform, dismiss one, answer one (approve the drafted reply, edited or not, or write one), and the
comment settings (auto-reply, hiding, the voice of replies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import Field

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.core.errors import choice
from tidings.core.platforms import Platform
from tidings.models.comments import Comment, CommentSettings, CommentStatus
from tidings.store.comments import CommentFilter

if TYPE_CHECKING:
    from tidings.engagement.comments import CommentService

_ID = Path(min_length=3, max_length=128)


class AnalysisView(ApiModel):
    sentiment: str
    scores: dict[str, float]
    toxicity: float
    toxicity_labels: list[str]
    spam: bool
    spam_reasons: list[str]
    keywords: list[str]
    decision: str
    reasons: list[str]
    analyzed_at: Timestamp


class ReplyView(ApiModel):
    text: str = Field(description="The reply as it is (or was) posted")
    state: str = Field(description="draft, approved, sending, unknown, posted or failed")
    draft: str | None = Field(description="What Tidings drafted (kept when you edit it)")
    drafted_by: str | None = Field(description="template or bedrock; null for a reply you wrote")
    approved_by: str | None = Field(description="Your user id, or auto for auto-reply")
    approved_at: Timestamp | None
    attempts: int
    last_error: str | None = Field(description="Why the last attempt (or the gate) did not post it")
    last_error_code: str | None
    platform_reply_id: str | None
    posted_at: Timestamp | None


class ReplyBody(ApiModel):
    text: str = Field(min_length=1, max_length=10_000, description="The reply to post")


class ApproveReplyBody(ApiModel):
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="Your edit of the draft; the draft when omitted",
    )


class CommentSettingsBody(ApiModel):
    auto_reply: dict[Platform, bool] = Field(
        default_factory=dict, description="Per platform: post drafted replies without asking (off by default)"
    )
    allow_hide: bool = Field(
        default=False, description="The analysis may decide to hide toxic or spam comments"
    )
    tone: str = Field(
        default="friendly", max_length=32, description="professional, friendly, enthusiastic or informative"
    )
    brand_name: str = Field(default="", max_length=200)
    brand_tagline: str = Field(default="", max_length=300)
    brand_phrases: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=20)
    brand_avoid: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=200,
        description="Phrases a reply must never hold (the gate refuses them)",
    )
    signature: str = Field(default="", max_length=200, description="Signs each drafted reply")


class CommentSettingsView(CommentSettingsBody):
    updated_at: Timestamp | None


class CommentView(ApiModel):
    comment_id: str = Field(description="<platform>.<the platform's comment id>")
    platform: str
    platform_comment_id: str
    post_id: str | None = Field(description="The Tidings post commented on, when Tidings published it")
    platform_post_id: str
    author_id: str | None
    author_name: str | None
    text: str
    created_at: Timestamp
    parent_id: str | None = Field(description="The platform id of the comment this one answers")
    thread_id: str | None
    status: str = Field(description="new, needs_response, handled, hidden or dismissed")
    source: str = Field(description="webhook or fetch: how it came in first")
    received_at: Timestamp
    updated_at: Timestamp
    analysis: AnalysisView | None
    reply: ReplyView | None


class CommentList(ApiModel):
    comments: list[CommentView]
    next_token: str | None = Field(description="Pass it back as nextToken for the next page; null at the end")


class SyncResult(ApiModel):
    posts_read: int
    comments_seen: int
    comments_new: int
    skipped: list[dict[str, str]] = Field(description="Posts not read, each with its platform and reason")


def comment_view(c: Comment) -> CommentView:
    a, r = c.analysis, c.reply
    return CommentView(
        comment_id=c.comment_id,
        platform=str(c.platform),
        platform_comment_id=c.platform_comment_id,
        post_id=c.post_id,
        platform_post_id=c.platform_post_id,
        author_id=c.author_id,
        author_name=c.author_name,
        text=c.text,
        created_at=c.created_at,
        parent_id=c.parent_id,
        thread_id=c.thread_id,
        status=str(c.status),
        source=str(c.source),
        received_at=c.received_at,
        updated_at=c.updated_at,
        analysis=AnalysisView.model_validate(a.model_dump()) if a else None,
        reply=ReplyView.model_validate(
            r.model_dump(exclude={"attempt_started_at", "next_attempt_at", "checks"})
        )
        if r
        else None,
    )


def settings_view(s: CommentSettings) -> CommentSettingsView:
    return CommentSettingsView.model_validate(
        s.model_dump(exclude={"user_id"}) | {"auto_reply": {Platform(k): v for k, v in s.auto_reply.items()}}
    )


def register_comment_routes(
    app: APIGatewayHttpResolver, service: Callable[[], CommentService], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/comments",
        summary="The comments on your posts, newest first",
        responses=responses(200, "A page of comments", CommentList, 400),
    )
    def list_comments(
        status: Annotated[str | None, Query(max_length=32)] = None,
        sentiment: Annotated[str | None, Query(max_length=32)] = None,
        platform: Annotated[str | None, Query(max_length=32)] = None,
        post_id: Annotated[str | None, Query(alias="postId", max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
    ) -> Response[str]:
        filters = CommentFilter(
            status=choice(CommentStatus, status, field="status", code="invalid_status") if status else None,
            sentiment=sentiment,
            platform=choice(Platform, platform, field="platform", code="unknown_platform")
            if platform
            else None,
            post_id=post_id,
        )
        page = service().list(user_id(), filters, limit, next_token)
        return json_response(
            200, CommentList(comments=[comment_view(c) for c in page.comments], next_token=page.next_token)
        )

    @app.post(
        "/comments/sync",
        summary="Read the comments of your recent posts from the platforms now (once a minute at most)",
        responses=responses(200, "What the read found", SyncResult, 429),
    )
    def sync_comments() -> Response[str]:
        report = service().sync(user_id())
        return json_response(200, SyncResult.model_validate(report.as_dict()))

    @app.get(
        "/comments/settings",
        summary="Your comment settings: auto-reply per platform, hiding, the voice of replies",
        responses=responses(200, "The settings", CommentSettingsView),
    )
    def get_comment_settings() -> Response[str]:
        return json_response(200, settings_view(service().reply_service().settings(user_id())))

    @app.put(
        "/comments/settings",
        summary="Replace your comment settings",
        responses=responses(200, "The settings as saved", CommentSettingsView),
    )
    def put_comment_settings(body: Annotated[CommentSettingsBody, Body()]) -> Response[str]:
        given = body.model_dump() | {"auto_reply": {str(k): v for k, v in body.auto_reply.items()}}
        saved = service().reply_service().save_settings(CommentSettings(user_id=user_id(), **given))
        return json_response(200, settings_view(saved))

    @app.get(
        "/comments/<commentId>",
        summary="One comment, with its analysis",
        responses=responses(200, "The comment", CommentView, 404),
    )
    def get_comment(commentId: Annotated[str, _ID]) -> Response[str]:
        return json_response(200, comment_view(service().get(user_id(), commentId)))

    @app.post(
        "/comments/<commentId>/hide",
        summary="Hide the comment on its platform (Facebook, Instagram)",
        responses=responses(200, "The comment, hidden", CommentView, 404, 409, 502),
    )
    def hide_comment(commentId: Annotated[str, _ID]) -> Response[str]:
        return json_response(200, comment_view(service().hide(user_id(), commentId)))

    @app.post(
        "/comments/<commentId>/dismiss",
        summary="Nothing is to be done about the comment",
        responses=responses(200, "The comment, dismissed", CommentView, 404, 409),
    )
    def dismiss_comment(commentId: Annotated[str, _ID]) -> Response[str]:
        return json_response(200, comment_view(service().dismiss(user_id(), commentId)))

    @app.post(
        "/comments/<commentId>/reply",
        summary="Answer the comment with your own reply: checked by the gate of posts, posted once",
        responses=responses(
            200, "The comment, handled, with its reply posted", CommentView, 404, 409, 502, 503
        ),
    )
    def write_reply(commentId: Annotated[str, _ID], body: Annotated[ReplyBody, Body()]) -> Response[str]:
        outcome = service().reply_service().write(user_id(), commentId, body.text)
        return json_response(200 if outcome.posted else 202, comment_view(outcome.comment))

    @app.post(
        "/comments/<commentId>/reply/approve",
        summary="Approve the drafted reply (or your edit of it) and post it once; approving a posted "
        "reply again answers it as it is",
        responses=responses(
            200, "The comment, handled, with its reply posted", CommentView, 404, 409, 502, 503
        ),
    )
    def approve_reply(
        commentId: Annotated[str, _ID], body: Annotated[ApproveReplyBody | None, Body()] = None
    ) -> Response[str]:
        text = body.text if body is not None else None
        outcome = service().reply_service().approve(user_id(), commentId, text)
        return json_response(200 if outcome.posted else 202, comment_view(outcome.comment))
