"""HTTP routes of email campaigns: generate one, list, read, change and delete them, and preview one
email for one recipient exactly as it will be sent (`tidings.campaigns.service` has the rules)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field, StrictBool, StrictFloat, StrictInt

from tidings.api.common import ERRORS, json_response, responses
from tidings.api.models import ApiModel, TemplateValue, Timestamp
from tidings.campaigns.recipients import RecipientInput
from tidings.campaigns.service import KEEP, CampaignChange, EmailChange, NewCampaign
from tidings.core.errors import NotFound
from tidings.models.campaigns import Segment

if TYPE_CHECKING:
    from tidings.campaigns.recommendations import Recommendation
    from tidings.campaigns.service import CampaignOutcome, CampaignService, Preview
    from tidings.models.campaigns import Campaign

# POST /campaigns and PATCH /campaigns/{campaignId} may carry 10,000 recipients: more than the API's
# usual 256 KB, less than the 6 MB a synchronous Lambda invocation takes.
CAMPAIGN_BODY_BYTES = 5 * 1024 * 1024
CAMPAIGN_ROUTES = ("POST /campaigns", "PATCH /campaigns/{campaignId}")
MAX_LIST_ENTRIES = 20_000  # entries a list may hold before duplicates are merged (10,000 after)

Text = Annotated[str, Field(max_length=2000)]
DetailValue = Text | StrictInt | StrictFloat | list[Annotated[str, Field(max_length=300)]]


# -- requests -------------------------------------------------------------------------------------------


class BrandVoiceBody(ApiModel):
    name: str | None = Field(default=None, max_length=200)
    tagline: str | None = Field(default=None, max_length=300)
    phrases: list[Annotated[str, Field(max_length=300)]] | None = Field(default=None, max_length=20)
    avoid: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=50)


class CustomizationBody(ApiModel):
    tone: str | None = Field(
        default=None, max_length=40, description="professional (default), friendly, enthusiastic, informative"
    )
    include_images: StrictBool = Field(default=False, description="Show details.imageUrl in the emails")
    brand_voice: Annotated[str, Field(max_length=1000)] | BrandVoiceBody | None = Field(
        default=None,
        description="{name, tagline, phrases, avoid} or text ('Name | Tagline | phrase, phrase'): signs "
        "the emails; avoid phrases are taken out",
    )


class RecipientBody(ApiModel):
    email: str = Field(max_length=320)
    first_name: str | None = Field(default=None, max_length=300)
    last_name: str | None = Field(default=None, max_length=300)
    timezone: str | None = Field(default=None, max_length=100, description="IANA zone (America/New_York)")
    client_id: str | None = Field(default=None, max_length=300, description="The recipient's CRM client")

    def input(self) -> RecipientInput:
        return RecipientInput(self.email, self.first_name, self.last_name, self.timezone, self.client_id)


class SegmentBody(ApiModel):
    integration_id: str = Field(min_length=1, max_length=128, description="A connected CRM integration")
    tags: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=50)
    lifecycle_stage: str | None = Field(default=None, max_length=300)

    def segment(self) -> Segment:
        return Segment(self.integration_id, tuple(self.tags), self.lifecycle_stage)


Recipients = Annotated[
    list[RecipientBody],
    Field(
        max_length=MAX_LIST_ENTRIES,
        description="{email, firstName?, lastName?, timezone?, clientId?}: up to 10,000 distinct addresses "
        "(duplicates merged, the first's values winning)",
    ),
]


class CreateCampaignBody(ApiModel):
    name: str = Field(max_length=1000, description="1 to 200 characters")
    template: str | None = Field(
        default=None,
        max_length=40,
        description="nurture (default; 5 emails), onboarding (5), listing-promotion (5), market-update (4), "
        "seasonal (4) or custom (1 to 10, emailCount)",
    )
    target_audience: str | None = Field(default=None, max_length=1000, description="Who it is written for")
    customization: CustomizationBody | None = None
    email_count: StrictInt | None = Field(
        default=None, description="1 to 10; the template's length by default"
    )
    delay_days: StrictInt | None = Field(
        default=None,
        description="Between two emails, in delayUnit (default 3 days; the first goes at the start)",
    )
    delay_unit: str = Field(
        default="days", max_length=10, description="days, or seconds where the deployment allows it (tests)"
    )
    topic: str | None = Field(
        default=None, max_length=2000, description="What it is about (custom: required)"
    )
    details: dict[Annotated[str, Field(max_length=40)], DetailValue | None] | None = Field(
        default=None,
        max_length=40,
        description="As generate_content takes them (address, price, bedrooms, location, medianPrice, "
        "priceChange, daysOnMarket, highlights, link, phone, cta...) and imageUrl, testimonial, "
        "testimonialAuthor, postalAddress, season",
    )
    variables: dict[Annotated[str, Field(max_length=64)], TemplateValue | None] | None = Field(
        default=None, max_length=50, description="The campaign's own template values (agentName...)"
    )
    recipients: Recipients | None = None
    segment: SegmentBody | None = Field(default=None, description="A CRM segment, read when it is scheduled")
    auto_schedule: StrictBool | None = Field(default=None, description="Default false")
    use_model: StrictBool = Field(default=False, description="Write with the configured Bedrock model")

    def new(self) -> NewCampaign:
        custom = self.customization or CustomizationBody()
        brand: Any = custom.brand_voice
        if isinstance(brand, BrandVoiceBody):
            brand = brand.model_dump(exclude_none=True)
        return NewCampaign(
            name=self.name,
            template=self.template,
            target_audience=self.target_audience,
            tone=custom.tone,
            include_images=custom.include_images,
            brand_voice=brand,
            email_count=self.email_count,
            delay=self.delay_days,
            delay_unit=self.delay_unit,
            topic=self.topic,
            details=self.details or {},
            variables=self.variables or {},
            recipients=[r.input() for r in self.recipients] if self.recipients is not None else None,
            segment=self.segment.segment() if self.segment is not None else None,
            auto_schedule=self.auto_schedule,
            use_model=self.use_model,
        )


class EmailPatchBody(ApiModel):
    n: StrictInt = Field(description="Which email (1 is the first)")
    subject: str | None = Field(default=None, max_length=1000)
    preheader: str | None = Field(default=None, max_length=1000)
    text: str | None = Field(default=None, max_length=30_000, description="At most 20,000 characters")
    html: str | None = Field(default=None, max_length=30_000, description="At most 20,000 characters")
    delay: StrictInt | None = Field(
        default=None, description="After the email before, in the campaign's unit"
    )


class PatchCampaignBody(ApiModel):
    """Only what is sent changes. `recipients` replaces the list (and clears a segment); `segment`
    replaces the segment (and empties the list), null removes it."""

    name: str | None = Field(default=None, max_length=1000)
    variables: dict[Annotated[str, Field(max_length=64)], TemplateValue | None] | None = Field(
        default=None, max_length=50
    )
    emails: list[EmailPatchBody] | None = Field(default=None, max_length=10)
    recipients: Recipients | None = None
    segment: SegmentBody | None = None
    version: StrictInt | None = Field(
        default=None, description="Change it only if it is still at this version"
    )

    def change(self) -> CampaignChange:
        segment: Any = KEEP
        if "segment" in self.model_fields_set:
            segment = self.segment.segment() if self.segment is not None else None
        return CampaignChange(
            name=self.name,
            variables=self.variables,
            emails=[
                EmailChange(e.n, e.subject, e.preheader, e.text, e.html, e.delay) for e in self.emails or []
            ],
            recipients=[r.input() for r in self.recipients] if self.recipients is not None else None,
            segment=segment,
            version=self.version,
        )


# -- answers ---------------------------------------------------------------------------------------------


class EmailView(ApiModel):
    n: int
    role: str = Field(description="introduction, value, social_proof or call_to_action")
    subject: str
    preheader: str
    text: str
    html: str
    delay: int = Field(description="After the email before (the first: after the start), in delayUnit")


class RecommendationView(ApiModel):
    code: str
    message: str
    email_numbers: list[int] | None = Field(
        default=None, exclude_if=lambda v: v is None, description="The emails it is about, when some are"
    )


class CustomizationView(ApiModel):
    tone: str | None
    include_images: bool
    brand_voice: Any


class SegmentView(ApiModel):
    integration_id: str
    tags: list[str]
    lifecycle_stage: str | None


class SendTimeView(ApiModel):
    hour: int
    minute: int


class CampaignWindowView(ApiModel):
    start_date: date
    send_time: SendTimeView
    timezone: str
    recipient_local_time: bool


class CampaignView(ApiModel):
    campaign_id: str
    name: str
    template: str
    status: str = Field(description="draft, scheduled, active, paused, completed, cancelled or failed")
    target_audience: str | None
    customization: CustomizationView
    topic: str | None
    details: dict[str, Any]
    variables: dict[str, Any]
    delay_unit: str
    auto_schedule: bool
    segment: SegmentView | None
    recipient_count: int
    emails: list[EmailView]
    estimated_duration: int | float = Field(description="Days from the start to the last email")
    recommendations: list[RecommendationView]
    window: CampaignWindowView | None = Field(description="When it sends, once scheduled")
    source: str = Field(description="template, or bedrock when a model wrote the emails")
    model_id: str | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    final_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp
    version: int


class CampaignSummaryView(ApiModel):
    campaign_id: str
    name: str
    template: str
    status: str
    email_count: int
    recipient_count: int
    segment: SegmentView | None
    delay_unit: str
    estimated_duration: int | float
    window: CampaignWindowView | None
    created_at: Timestamp
    updated_at: Timestamp
    version: int


class CampaignList(ApiModel):
    campaigns: list[CampaignSummaryView] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last")


class PreviewRecipientView(ApiModel):
    email: str | None
    client_id: str | None
    integration_id: str | None = Field(description="The CRM the client was read from")
    source: str = Field(description="list (the campaign's list), crm (a CRM client) or none")


class PreviewView(ApiModel):
    n: int
    role: str
    subject: str
    preheader: str
    text: str
    html: str
    recipient: PreviewRecipientView
    unsubscribe_url: str = Field(
        description="A preview link that leads nowhere: each recipient gets their own"
    )
    fields: list[str] = Field(description="The client's CRM fields the email used")
    style: str | None = Field(description="The client's communication style applied")
    language: str | None


def _segment_view(segment: Segment | None) -> SegmentView | None:
    if segment is None:
        return None
    return SegmentView(
        integration_id=segment.integration_id,
        tags=list(segment.tags),
        lifecycle_stage=segment.lifecycle_stage,
    )


def _window_view(campaign: Campaign) -> CampaignWindowView | None:
    w = campaign.window
    if w is None:
        return None
    return CampaignWindowView(
        start_date=w.start_date,
        send_time=SendTimeView(hour=w.hour, minute=w.minute),
        timezone=w.timezone,
        recipient_local_time=w.recipient_local_time,
    )


def recommendation_view(r: Recommendation) -> RecommendationView:
    return RecommendationView(code=r.code, message=r.message, email_numbers=list(r.email_numbers) or None)


def campaign_view(outcome: CampaignOutcome) -> CampaignView:
    c = outcome.campaign
    return CampaignView(
        campaign_id=c.campaign_id,
        name=c.name,
        template=c.template,
        status=c.status,
        target_audience=c.target_audience,
        customization=CustomizationView(
            tone=c.customization.tone,
            include_images=c.customization.include_images,
            brand_voice=c.customization.brand_voice,
        ),
        topic=c.topic,
        details=dict(c.details),
        variables=dict(c.variables),
        delay_unit=c.delay_unit,
        auto_schedule=c.auto_schedule,
        segment=_segment_view(c.segment),
        recipient_count=c.recipient_count,
        emails=[
            EmailView(
                n=e.n,
                role=e.role,
                subject=e.subject,
                preheader=e.preheader,
                text=e.text,
                html=e.html,
                delay=e.delay,
            )
            for e in c.emails
        ],
        estimated_duration=outcome.estimated_duration,
        recommendations=[recommendation_view(r) for r in outcome.recommendations],
        window=_window_view(c),
        source=c.source,
        model_id=c.model_id,
        started_at=c.started_at,
        completed_at=c.completed_at,
        final_reason=c.final_reason,
        created_at=c.created_at,
        updated_at=c.updated_at,
        version=c.version,
    )


def summary_view(c: Campaign) -> CampaignSummaryView:
    from tidings.campaigns.recommendations import estimated_duration

    return CampaignSummaryView(
        campaign_id=c.campaign_id,
        name=c.name,
        template=c.template,
        status=c.status,
        email_count=len(c.emails),
        recipient_count=c.recipient_count,
        segment=_segment_view(c.segment),
        delay_unit=c.delay_unit,
        estimated_duration=estimated_duration(c),
        window=_window_view(c),
        created_at=c.created_at,
        updated_at=c.updated_at,
        version=c.version,
    )


def preview_view(preview: Preview) -> PreviewView:
    e = preview.email
    return PreviewView(
        n=e.n,
        role=preview.role,
        subject=e.subject,
        preheader=e.preheader,
        text=e.text,
        html=e.html,
        recipient=PreviewRecipientView(
            email=e.email, client_id=e.client_id, integration_id=e.integration_id, source=preview.source
        ),
        unsubscribe_url=preview.unsubscribe_url,
        fields=e.fields,
        style=e.style,
        language=e.language,
    )


# -- routes ----------------------------------------------------------------------------------------------


def register_campaign_routes(
    app: APIGatewayHttpResolver, service: Callable[[], CampaignService], user_id: Callable[[], str]
) -> None:
    @app.post(
        "/campaigns",
        summary="Generate an email campaign (a drip sequence) in draft",
        description="Writes every email (subject, preheader, text and HTML) from the template in your tone "
        "and brand voice, or with the configured Bedrock model (useModel); answers the campaign with its "
        "estimatedDuration and recommendations. Variables ({{firstName}}...) are checked: one that no "
        "recipient or campaign value supplies is a 422 unknown_variables. 409 campaign_limit_reached "
        "past 100 campaigns.",
        status_code=201,
        responses=responses(201, "The campaign, in draft", CampaignView, 400, 404, 409, 413, 429, 502, 503),
    )
    def create_campaign(body: Annotated[CreateCampaignBody, Body()]) -> Response[str]:
        return json_response(201, campaign_view(service().create(user_id(), body.new())))

    @app.get(
        "/campaigns",
        summary="Your campaigns, newest first (without their emails' bodies)",
        responses=responses(200, "A page of campaigns", CampaignList),
    )
    def list_campaigns(
        status: Annotated[
            str | None,
            Query(
                max_length=20, description="draft, scheduled, active, paused, completed, cancelled, failed"
            ),
        ] = None,
        limit: Annotated[int, Query(description="1 to 100")] = 25,
        cursor: Annotated[
            str | None, Query(max_length=2048, description="nextCursor of the page before")
        ] = None,
    ) -> Response[str]:
        found, next_cursor = service().list(user_id(), status=status, limit=limit, cursor=cursor)
        return json_response(
            200, CampaignList(campaigns=[summary_view(c) for c in found], next_cursor=next_cursor)
        )

    @app.get(
        "/campaigns/<campaignId>",
        summary="One campaign with its emails, estimated duration and recommendations",
        responses=responses(200, "The campaign", CampaignView, 404),
    )
    def get_campaign(campaignId: str) -> Response[str]:
        return json_response(200, campaign_view(service().get(user_id(), campaignId)))

    @app.patch(
        "/campaigns/<campaignId>",
        summary="Change a draft or paused campaign: name, variables, emails, recipients or segment",
        responses=responses(200, "The campaign", CampaignView, 400, 404, 409, 413),
    )
    def patch_campaign(campaignId: str, body: Annotated[PatchCampaignBody, Body()]) -> Response[str]:
        return json_response(200, campaign_view(service().patch(user_id(), campaignId, body.change())))

    @app.delete(
        "/campaigns/<campaignId>",
        summary="Delete a campaign and its recipients (a scheduled, active or paused one: cancel it first)",
        status_code=204,
        responses={204: {"description": "Deleted"}, **{e: ERRORS[e] for e in (401, 404, 409)}},
    )
    def delete_campaign(campaignId: str) -> Response[str]:
        service().delete(user_id(), campaignId)
        return Response(status_code=204, body="")

    @app.post(
        "/campaigns/<campaignId>/emails/<n>/preview",
        summary="One email rendered for one recipient, exactly as it will be sent",
        description="For the list's recipient `email`, or the CRM client `clientId`, or (with neither) the "
        "list's first recipient. The unsubscribe link is a preview link that leads nowhere.",
        responses=responses(200, "The rendered email", PreviewView, 400, 404, 409, 429, 502, 503),
    )
    def preview_campaign_email(
        campaignId: str,
        n: str,
        clientId: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        email: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    ) -> Response[str]:
        if not n.isdigit() or not 1 <= int(n) <= 1000:
            raise NotFound("no such email", {"n": n}, code="email_not_found")
        preview = service().preview(user_id(), campaignId, int(n), client_id=clientId, email=email)
        return json_response(200, preview_view(preview))
