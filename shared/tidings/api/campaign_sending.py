"""HTTP routes for when a campaign's emails go out: schedule, pause, resume, cancel, and what each
recipient gets of each email (planned, then sent, skipped or failed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field, StrictBool, StrictInt

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.models.campaigns import SendWindow

if TYPE_CHECKING:
    from tidings.campaigns.scheduling import CampaignScheduling, Cancelled, SchedulePlan
    from tidings.campaigns.send_listing import SendListing, SendRow
    from tidings.models.campaigns import Campaign


@dataclass(frozen=True)
class CampaignSendingServices:
    scheduling: CampaignScheduling
    listing: SendListing


class SendTime(ApiModel):
    hour: StrictInt = Field(ge=0, le=23)
    minute: StrictInt = Field(ge=0, le=59)


class ScheduleBody(ApiModel):
    start_date: date = Field(description="The day of the first email (its delay counts from it), YYYY-MM-DD")
    send_time: SendTime = Field(description="The local time every email goes out at")
    timezone: str = Field(
        min_length=1,
        max_length=64,
        description="IANA zone: the campaign's, for recipients with none of their own (and everybody "
        "when recipientLocalTime is false)",
    )
    recipient_local_time: StrictBool = Field(
        default=True,
        description="Send at sendTime in each recipient's zone: theirs, else their CRM record's, else "
        "the campaign's",
    )


class WindowView(ApiModel):
    start_date: date
    send_time: SendTime
    timezone: str
    recipient_local_time: bool


class CampaignStateView(ApiModel):
    campaign_id: str
    name: str
    status: str = Field(description="draft, scheduled, active, paused, completed, cancelled or failed")
    window: WindowView | None = Field(description="When it sends, once scheduled")
    recipient_count: int
    started_at: Timestamp | None = Field(description="When its first email went out")
    updated_at: Timestamp
    version: int


class ZoneView(ApiModel):
    timezone: str
    recipients: int = Field(description="Recipients timed in this zone")
    suppressed: int = Field(description="Addresses of the zone left out: on your suppression list")
    first_send_at: Timestamp | None = Field(description="Email 1 in this zone (UTC)")
    first_local_time: str | None = Field(description="The same, as the zone's local time with its offset")


class ScheduleView(ApiModel):
    campaign: CampaignStateView
    recipients: int = Field(description="Who will receive it")
    suppressed: int = Field(description="Addresses left out: on your suppression list")
    zones: list[ZoneView]
    zone_sources: dict[str, int] = Field(
        description="Recipients by where their zone came from: recipient, crm or campaign"
    )
    first_send_at: Timestamp
    last_send_at: Timestamp


class CancelView(ApiModel):
    campaign: CampaignStateView
    skipped_sends: int = Field(description="Sends that were planned and are now skipped (cancelled)")


class SendView(ApiModel):
    n: int = Field(description="The email (1 is the first)")
    email: str
    status: str = Field(description="planned, sending, sent, skipped or failed")
    send_at: Timestamp | None = Field(description="When it goes (or went) out, UTC")
    local_time: str | None = Field(description="sendAt as the recipient's local time, with its offset")
    timezone: str = Field(description="The recipient's zone")
    paused: bool = Field(description="Planned, held while the campaign is paused")
    sent_at: Timestamp | None
    message_id: str | None = Field(description="SES's message id, once sent")
    reason: str | None = Field(description="Why it was skipped (suppressed, cancelled...) or failed")
    attempts: int
    opened_at: Timestamp | None = Field(description="First open, where the configuration set reports it")
    clicked_at: Timestamp | None


class SendList(ApiModel):
    sends: list[SendView] = Field(description="By email n, then address")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last")


def campaign_state(c: Campaign) -> CampaignStateView:
    window = None
    if c.window is not None:
        w = c.window
        window = WindowView(
            start_date=w.start_date,
            send_time=SendTime(hour=w.hour, minute=w.minute),
            timezone=w.timezone,
            recipient_local_time=w.recipient_local_time,
        )
    return CampaignStateView(
        campaign_id=c.campaign_id,
        name=c.name,
        status=c.status,
        window=window,
        recipient_count=c.recipient_count,
        started_at=c.started_at,
        updated_at=c.updated_at,
        version=c.version,
    )


def schedule_view(plan: SchedulePlan) -> ScheduleView:
    return ScheduleView(
        campaign=campaign_state(plan.campaign),
        recipients=plan.recipients,
        suppressed=plan.suppressed,
        zones=[
            ZoneView(
                timezone=z.timezone,
                recipients=z.recipients,
                suppressed=z.suppressed,
                first_send_at=z.first_send_at,
                first_local_time=z.first_local_time,
            )
            for z in plan.zones
        ],
        zone_sources=plan.zone_sources,
        first_send_at=plan.first_send_at,
        last_send_at=plan.last_send_at,
    )


def cancel_view(result: Cancelled) -> CancelView:
    return CancelView(campaign=campaign_state(result.campaign), skipped_sends=result.skipped)


def send_view(row: SendRow) -> SendView:
    return SendView(
        n=row.n,
        email=row.email,
        status=row.status,
        send_at=row.send_at,
        local_time=row.local_time,
        timezone=row.timezone,
        paused=row.paused,
        sent_at=row.sent_at,
        message_id=row.message_id,
        reason=row.reason,
        attempts=row.attempts,
        opened_at=row.opened_at,
        clicked_at=row.clicked_at,
    )


def register_campaign_sending_routes(
    app: APIGatewayHttpResolver,
    services: Callable[[], CampaignSendingServices],
    user_id: Callable[[], str],
) -> None:
    @app.post(
        "/campaigns/<campaignId>/schedule",
        summary="Schedule a draft campaign: each email at sendTime, in each recipient's own zone",
        description="A segment is read from the CRM integration's synced contacts now and becomes the "
        "recipient list. Addresses on your suppression list are left out and counted. 409 "
        "campaign_not_draft; 422 no_recipients, start_in_past (the first email's time is gone in some "
        "recipient's zone), unknown_timezone, too_many_time_zones, segment_not_crm; 404 "
        "integration_not_found for a segment's missing integration. Daylight-saving rules: README, "
        "'Scheduling a campaign'.",
        responses=responses(200, "Scheduled: the plan by time zone", ScheduleView, 400, 404, 409),
    )
    def schedule_campaign(campaignId: str, body: Annotated[ScheduleBody, Body()]) -> Response[str]:
        window = SendWindow(
            start_date=body.start_date,
            hour=body.send_time.hour,
            minute=body.send_time.minute,
            timezone=body.timezone,
            recipient_local_time=body.recipient_local_time,
        )
        return json_response(
            200, schedule_view(services().scheduling.schedule(user_id(), campaignId, window))
        )

    @app.post(
        "/campaigns/<campaignId>/pause",
        summary="Pause a scheduled or active campaign (emails not yet due are held)",
        responses=responses(200, "Paused", CampaignStateView, 404, 409),
    )
    def pause_campaign(campaignId: str) -> Response[str]:
        return json_response(200, campaign_state(services().scheduling.pause(user_id(), campaignId)))

    @app.post(
        "/campaigns/<campaignId>/resume",
        summary="Resume a paused campaign; emails whose time passed go out at the next send time slot",
        responses=responses(200, "Scheduled or active again", CampaignStateView, 404, 409),
    )
    def resume_campaign(campaignId: str) -> Response[str]:
        return json_response(200, campaign_state(services().scheduling.resume(user_id(), campaignId)))

    @app.post(
        "/campaigns/<campaignId>/cancel",
        summary="Cancel a scheduled, active or paused campaign; planned sends are skipped (cancelled)",
        responses=responses(200, "Cancelled", CancelView, 404, 409),
    )
    def cancel_campaign(campaignId: str) -> Response[str]:
        return json_response(200, cancel_view(services().scheduling.cancel(user_id(), campaignId)))

    @app.get(
        "/campaigns/<campaignId>/sends",
        summary="Per recipient and email: when it is planned (UTC and local), then what became of it",
        description="Rows by email n, then address; none before the campaign is scheduled. A filtered "
        "page may hold fewer than limit with a nextCursor: go on while one comes back.",
        responses=responses(200, "A page of sends", SendList, 404),
    )
    def list_campaign_sends(
        campaignId: str,
        email: Annotated[str | None, Query(max_length=254, description="One recipient's address")] = None,
        status: Annotated[
            str | None, Query(max_length=10, description="planned, sending, sent, skipped or failed")
        ] = None,
        n: Annotated[int | None, Query(description="One email (1 is the first)")] = None,
        limit: Annotated[int, Query(description="1 to 100")] = 50,
        cursor: Annotated[
            str | None, Query(max_length=2048, description="nextCursor of the page before")
        ] = None,
    ) -> Response[str]:
        found = services().listing.rows(
            user_id(), campaignId, email=email, status=status, n=n, limit=limit, cursor=cursor
        )
        return json_response(
            200, SendList(sends=[send_view(r) for r in found.rows], next_cursor=found.next_cursor)
        )
