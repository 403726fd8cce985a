"""HTTP routes for connected accounts, post previews, dry runs and direct messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from tidings.api.common import doc, json_response, responses
from tidings.api.models import (
    AccountHealthView,
    AccountList,
    AccountView,
    AuditEntryView,
    AuditList,
    ConnectAccountRequest,
    DraftPreviewView,
    DraftRequest,
    DryRunView,
    ErrorBody,
    MediaPreviewView,
    MessageSentView,
    PlatformPreviewView,
    PreviewView,
    ProblemView,
    QueueDryRunView,
    ScheduledRef,
    WhatsAppMessageRequest,
)
from tidings.core.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from tidings.models.accounts import Account
    from tidings.publishing.messaging import MessagingService
    from tidings.publishing.readiness import PlatformPreview, PostReport, Readiness
    from tidings.store.accounts import AccountRepository
    from tidings.store.audit import AuditRepository
    from tidings.store.posts import PostRepository


@dataclass(frozen=True)
class AccountServices:
    accounts: AccountRepository
    readiness: Readiness
    messaging: MessagingService
    posts: PostRepository
    renewable: Callable[[str], bool]  # whether the app can renew this platform's tokens
    audit: AuditRepository


def account_view(account: Account, renews: bool) -> AccountView:
    return AccountView(
        id=account.platform,
        platform=account.platform,
        account_id=account.account_id,
        connected_at=account.connected_at,
        expires_at=account.expires_at,
        has_refresh_token=account.has_refresh_token,
        renews_automatically=renews,
        token_hint=account.token_hint,
        refreshed_at=account.refreshed_at,
    )


def report_view(report: PostReport) -> DryRunView:
    return DryRunView(
        post_id=report.post.post_id,
        scheduled_time=report.post.scheduled_time,
        platforms=[str(p) for p in report.post.platforms],
        ok=report.ok,
        problems=[
            ProblemView(
                check=p.check,
                code=p.code,
                message=p.message,
                platform=p.platform,
                severity=p.severity,
                details=p.details,
            )
            for p in report.problems
        ],
    )


def platform_preview_view(p: PlatformPreview) -> PlatformPreviewView:
    return PlatformPreviewView(
        platform=p.platform,
        text=p.text,
        length=p.length,
        limit=p.limit,
        link=p.link,
        link_in_text=p.link_in_text,
        media=[MediaPreviewView(url=m.url, kind=m.kind) for m in p.media],
        media_as=p.media_as,
        title=p.title,
    )


def register_account_routes(
    app: APIGatewayHttpResolver, services: Callable[[], AccountServices], user_id: Callable[[], str]
) -> None:
    def renews(account: Account) -> bool:
        return account.refreshable and services().renewable(account.platform)

    @app.post(
        "/accounts",
        summary="Connect a platform account (tokens are stored encrypted and never shown again)",
        responses=responses(201, "The connected account", AccountView, 400),
    )
    def connect_account(body: Annotated[ConnectAccountRequest, Body()]) -> Response[str]:
        account = services().accounts.connect(
            user_id(),
            body.platform,
            body.account_id,
            body.access_token.get_secret_value(),
            refresh_token=body.refresh_token.get_secret_value() if body.refresh_token else None,
            expires_at=body.expires_at,
        )
        return json_response(201, account_view(account, renews(account)))

    @app.get(
        "/accounts",
        summary="Connected accounts, without secrets",
        responses=responses(200, "Accounts", AccountList),
    )
    def list_accounts() -> Response[str]:
        accounts = services().accounts.list(user_id())
        return json_response(200, AccountList(accounts=[account_view(a, renews(a)) for a in accounts]))

    @app.delete(
        "/accounts/<accountId>",
        summary="Disconnect an account (its id is its platform)",
        responses=responses(200, "The disconnected account", AccountView, 404),
    )
    def disconnect_account(accountId: str) -> Response[str]:
        account = services().accounts.disconnect(user_id(), _platform_id(accountId))
        return json_response(200, account_view(account, False))

    @app.post(
        "/accounts/<accountId>/rotate",
        summary="Re-encrypt the account's tokens under a new data key",
        responses=responses(200, "The account", AccountView, 404, 409),
    )
    def rotate_account(accountId: str) -> Response[str]:
        account = services().accounts.rotate(user_id(), _platform_id(accountId))
        return json_response(200, account_view(account, renews(account)))

    @app.get(
        "/audit",
        summary="Who changed your credentials, what and when (newest first)",
        responses=responses(200, "A page of entries", AuditList),
    )
    def audit_trail(
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
    ) -> Response[str]:
        try:
            entries, token = services().audit.page(user_id(), limit, next_token)
        except ValueError as exc:
            raise ValidationFailed(str(exc), {"field": "nextToken"}, code="invalid_next_token") from exc
        views = [
            AuditEntryView(at=e.at, actor=e.actor, action=e.action, target=e.target, details=e.details)
            for e in entries
        ]
        return json_response(200, AuditList(entries=views, next_token=token))

    @app.get(
        "/accounts/<accountId>/health",
        summary="When the token expires, and which scheduled posts fall after that",
        responses=responses(200, "The forecast", AccountHealthView, 404),
    )
    def account_health(accountId: str) -> Response[str]:
        health = services().readiness.account_health(user_id(), _platform_id(accountId))
        return json_response(
            200,
            AccountHealthView(
                platform=health.account.platform,
                account_id=health.account.account_id,
                status=health.status,
                expires_at=health.account.expires_at,
                seconds_until_expiry=health.seconds_until_expiry,
                renews_automatically=health.renews_automatically,
                message=health.message,
                posts_after_expiry=[
                    ScheduledRef(post_id=p.post_id, scheduled_time=p.scheduled_time)
                    for p in health.posts_after_expiry
                ],
            ),
        )

    _post_checks_and_messages(app, services, user_id)


def _post_checks_and_messages(
    app: APIGatewayHttpResolver, services: Callable[[], AccountServices], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/posts/<postId>/preview",
        summary="Exactly what each platform will receive",
        responses=responses(200, "Per platform", PreviewView, 404),
    )
    def preview_post(postId: str) -> Response[str]:
        from tidings.publishing.readiness import preview

        post = services().posts.get(user_id(), postId)
        if post is None:
            raise NotFound("no such post", {"postId": postId}, code="post_not_found")
        platforms = [platform_preview_view(p) for p in preview(post)]
        return json_response(
            200, PreviewView(post_id=post.post_id, scheduled_time=post.scheduled_time, platforms=platforms)
        )

    @app.post(
        "/posts/preview",
        summary="Preview and check a post being written, without storing it: what each platform would "
        "receive, and the problems a dry run would find",
        responses=responses(200, "Per platform, and the problems found (none: ok)", DraftPreviewView),
    )
    def preview_draft(body: Annotated[DraftRequest, Body()]) -> Response[str]:
        from tidings.models.posts import ScheduledPost
        from tidings.publishing.readiness import preview
        from tidings.publishing.validation import parse_platforms

        readiness = services().readiness
        now = readiness.clock.now()
        when = body.scheduled_time or now
        if when.tzinfo is None:
            raise ValidationFailed(
                "scheduledTime needs a UTC offset", {"field": "scheduledTime"}, code="time_without_offset"
            )
        draft = ScheduledPost(
            user_id=user_id(),
            post_id="draft",
            content=body.content,
            platforms=parse_platforms(body.platforms),
            scheduled_time=when,
            hashtags=body.hashtags,
            thread=body.thread,
            media_urls=body.media_urls,
            link=body.link,
            created_at=now,
            updated_at=now,
        )
        report = readiness.dry_run_draft(draft)
        checked = report_view(report)
        return json_response(
            200,
            DraftPreviewView(
                scheduled_time=draft.scheduled_time,
                platforms=[platform_preview_view(p) for p in preview(draft)],
                ok=checked.ok,
                problems=checked.problems,
            ),
        )

    @app.post(
        "/posts/<postId>/dry-run",
        summary="Check everything that would happen when the post goes out, without posting",
        responses=responses(200, "The problems found (none: ok)", DryRunView, 404),
    )
    def dry_run_post(postId: str) -> Response[str]:
        return json_response(200, report_view(services().readiness.dry_run_post(user_id(), postId)))

    @app.get(
        "/queue/dry-run",
        summary="Dry-run every scheduled post of the next days",
        responses=responses(200, "Per post", QueueDryRunView),
    )
    def dry_run_queue(days: Annotated[int, Query(ge=1, le=31)] = 7) -> Response[str]:
        reports = services().readiness.dry_run_queue(user_id(), days)
        problems = [p for r in reports for p in r.problems]
        return json_response(
            200,
            QueueDryRunView(
                days=days,
                checked_posts=len(reports),
                posts_with_problems=sum(1 for r in reports if r.problems),
                errors=sum(1 for p in problems if p.severity == "error"),
                warnings=sum(1 for p in problems if p.severity == "warning"),
                posts=[report_view(r) for r in reports],
            ),
        )

    @app.post(
        "/messages/whatsapp",
        summary="Send a WhatsApp message (text inside the 24-hour window, else the approved template)",
        responses={
            **responses(201, "Sent", MessageSentView, 400, 404, 409),
            429: doc("The platform's rate limit", ErrorBody),
            502: doc("WhatsApp failed or could not be reached", ErrorBody),
        },
    )
    def send_whatsapp(body: Annotated[WhatsAppMessageRequest, Body()]) -> Response[str]:
        from tidings.publishing.messaging import Template

        template = (
            Template(body.template.name, body.template.language, body.template.components)
            if body.template
            else None
        )
        sent = services().messaging.send_whatsapp(user_id(), body.to, body.text, template)
        return json_response(
            201,
            MessageSentView(
                message_id=sent.message_id,
                to=sent.to,
                kind=sent.kind,
                fell_back_to_template=sent.fell_back_to_template,
            ),
        )


def _platform_id(account_id: str) -> str:
    from tidings.core.platforms import ACCOUNT_PLATFORMS

    if account_id not in ACCOUNT_PLATFORMS:
        raise NotFound("no such account", {"accountId": account_id}, code="account_not_found")
    return account_id
