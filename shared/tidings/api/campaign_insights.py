"""HTTP routes of what campaigns did: `GET /campaigns/{campaignId}/stats` (per email and in total).
The routes of the suppression list and the unsubscribe links are `tidings.api.suppressions`; both
are registered together, with the services of `CampaignInsightServices`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import Field

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.api.suppressions import register_suppression_routes

if TYPE_CHECKING:
    from tidings.campaigns.stats import CampaignStats, EmailStats
    from tidings.campaigns.suppression import SuppressionService


@dataclass(frozen=True)
class CampaignInsightServices:
    suppressions: SuppressionService
    stats: CampaignStats


class RatesView(ApiModel):
    delivery_rate: float | None = Field(description="delivered / sent")
    bounce_rate: float | None = Field(description="permanent bounces / sent")
    complaint_rate: float | None = Field(description="complaints / sent (keep it under 0.003)")
    open_rate: float | None = Field(description="opened / delivered (/ sent while no delivery is reported)")
    click_rate: float | None = Field(description="clicked / delivered (/ sent while no delivery is reported)")


class EmailStatsView(ApiModel):
    n: int | None = Field(description="The email's place in the sequence; null for the totals")
    subject: str | None
    recipients: int = Field(description="Addresses the email is for (suppressed ones included)")
    sent: int
    skipped: int
    skipped_reasons: dict[str, int] = Field(
        description="Why sends were skipped: `suppressed` (on the list when the campaign was scheduled), "
        "or the reason the sender gave (unsubscribed, bounced, cancelled...)"
    )
    failed: int
    failed_reasons: dict[str, int] = Field(description="SES's (or the renderer's) reasons, by count")
    delivered: int | None = Field(description="null while SES reported no event for this email")
    bounced: int | None = Field(description="Permanent bounces (each suppresses its address)")
    soft_bounced: int | None = Field(description="Transient or undetermined bounces (nothing suppressed)")
    complained: int | None = Field(description="Marked as spam (each suppresses its address)")
    opened: int | None = Field(description="Sends opened at least once")
    clicked: int | None = Field(description="Sends with at least one link clicked")
    rates: RatesView


class CampaignStatsView(ApiModel):
    campaign_id: str
    name: str
    status: str
    started_at: Timestamp | None
    completed_at: Timestamp | None
    emails: list[EmailStatsView]
    totals: EmailStatsView


def email_stats_view(e: EmailStats) -> EmailStatsView:
    return EmailStatsView(
        n=e.n,
        subject=e.subject,
        recipients=e.recipients,
        sent=e.sent,
        skipped=e.skipped,
        skipped_reasons=dict(e.skipped_reasons),
        failed=e.failed,
        failed_reasons=dict(e.failed_reasons),
        delivered=e.events.get("delivered"),
        bounced=e.events.get("bounced"),
        soft_bounced=e.events.get("soft_bounced"),
        complained=e.events.get("complained"),
        opened=e.events.get("opened"),
        clicked=e.events.get("clicked"),
        rates=RatesView(**e.rates),
    )


def register_campaign_insight_routes(
    app: APIGatewayHttpResolver, services: Callable[[], CampaignInsightServices], user_id: Callable[[], str]
) -> None:
    register_suppression_routes(app, lambda: services().suppressions, user_id)

    @app.get(
        "/campaigns/<campaignId>/stats",
        summary="A campaign's stats per email and in total: sent, skipped and failed with reasons, "
        "deliveries, bounces, complaints, opens and clicks where SES reports them, and rates",
        responses=responses(200, "The stats", CampaignStatsView, 404),
    )
    def campaign_stats(campaignId: str) -> Response[str]:
        report = services().stats.report(user_id(), campaignId)
        c = report.campaign
        return json_response(
            200,
            CampaignStatsView(
                campaign_id=c.campaign_id,
                name=c.name,
                status=c.status,
                started_at=c.started_at,
                completed_at=c.completed_at,
                emails=[email_stats_view(e) for e in report.emails],
                totals=email_stats_view(report.totals),
            ),
        )
