"""Email campaigns: generated from a template (or a model), listed, read, changed while `draft` or
`paused`, deleted, and one email previewed for one recipient as it will be sent.

Generation (`create`). A campaign is written in `draft` from its template (`nurture` by default),
`emailCount` emails (the template's length by default, 1 to `TIDINGS_CAMPAIGN_MAX_EMAILS`), each
`delayDays` after the one before (3 by default; the first goes out at the start), in the content
package's tone and brand voice (`tidings.campaigns.content`), or by the configured Bedrock model
with `useModel` (`tidings.campaigns.model`). `delayUnit: "seconds"` counts delays in seconds and is
refused (422 `seconds_delays_not_allowed`) unless `TIDINGS_CAMPAIGN_SECONDS_DELAYS_ALLOWED` is on
(`tidings dev` turns it on). A user keeps at most `TIDINGS_CAMPAIGN_MAX_PER_USER` campaigns (100):
beyond, 409 `campaign_limit_reached`; and has at most `TIDINGS_CAMPAIGN_MODEL_DAILY_LIMIT` (20)
campaigns written by the model a day (each is a paid Bedrock call): beyond, 429 `model_limit_reached`
with `details.retryAfterSeconds`.

Details. The content package's details (`address`, `price`, `bedrooms`... as generate_content takes
them) and the campaign's own: `imageUrl` (an https image, shown with `includeImages`),
`testimonial` and `testimonialAuthor` (quoted in the social-proof emails), `postalAddress` (in
every footer) and `season` (spring, summer, autumn or fall, winter; a seasonal campaign without one
takes the season of the current month, northern hemisphere). `listing-promotion` needs
`details.address`; `market-update` at least one figure (`medianPrice`, `priceChange`,
`daysOnMarket` or `inventory`): without, 422 `missing_details`.

Variables. Every `{{ variable }}` a subject, preheader or body uses must be one a recipient or the
campaign can supply, else 422 `unknown_variables` (`details.unknown`, and per email `details.emails`):
the standard client fields (`firstName`, `lastName`, `fullName`, `email`, `phone`), every `details`
key, every key of the campaign's `variables` (its own values: `agentName`, `agentPhone`...), and
`unsubscribeUrl` (the sender's). With a CRM `segment` every recipient is a CRM client, so any other
name is taken for a custom field alias of that CRM (`{{ annualBudget }}`): it must then have a value
for each recipient when the email is rendered. Each text and HTML body must keep `{{ unsubscribeUrl }}`
(422 `unsubscribe_missing`).

Audience. `recipients` (a list, checked by `tidings.campaigns.recipients`) or `segment` (a CRM
integration of the user, connected; read when the campaign is scheduled): not both (422
`recipients_and_segment`). A PATCH that sets one clears the other.

Changes (`patch`): `name`, `variables`, each email's `subject`, `preheader`, `text`, `html` and
`delay`, `recipients`, `segment`, while the campaign is `draft` or `paused` (else 409
`campaign_not_editable`); with `version`, only if the campaign is still at that version (409
`campaign_busy`).

Deletion: a campaign that is `scheduled`, `active` or `paused` holds schedules and planned sends: 409
`campaign_not_deletable` until it is cancelled (`POST /campaigns/{id}/cancel`). Deleting takes its
recipients with it, and a cancelled or completed campaign's steps, audience and sends. A paused
campaign's emails may change, its audience may not (409 `campaign_audience_fixed`): it was planned
when the campaign was scheduled.

`autoSchedule` is stored with the campaign and false unless asked (`TIDINGS_CAMPAIGN_AUTO_SCHEDULE`);
with it, the campaign is handed to the scheduler the service was given (`auto_scheduler`) once
stored; a service built without one refuses it (422 `auto_schedule_unavailable`) rather than ignore it.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tidings.campaigns.content import UNSUBSCRIBE_VARIABLE, Brief, write_emails
from tidings.campaigns.message import html_with_unsubscribe, text_with_unsubscribe, with_preheader
from tidings.campaigns.recipients import RecipientInput, check_recipients, normalise_email
from tidings.campaigns.recommendations import Recommendation, estimated_duration, recommend
from tidings.campaigns.render import PREVIEW_UNSUBSCRIBE_URL, EmailRenderer, RenderedEmail
from tidings.campaigns.templates import PLANS, SEASON_ALIASES, SEASON_OF_MONTH, SEASONS, flow
from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.errors import Conflict, NotFound, TidingsError, TooManyRequests, ValidationFailed
from tidings.core.platforms import Platform
from tidings.integrations.ratelimits import retry_after_seconds
from tidings.models.campaigns import (
    DELAY_UNITS,
    MAX_RECIPIENTS,
    TEMPLATES,
    Campaign,
    CampaignEmail,
    CampaignStatus,
    Customization,
    Recipient,
    Segment,
)
from tidings.store.budgets import Limit
from tidings.store.campaigns import MAX_PAGE, limit_reached, new_campaign_id, not_found
from tidings.workflows.content.catalogue import DEFAULT_TONE
from tidings.workflows.content.request import ContentRequest, check_params, parse_request
from tidings.workflows.gates import find_links

if TYPE_CHECKING:
    from tidings.crm.personalization import Personalization
    from tidings.models.analytics import EngagementSample
    from tidings.store.analytics import AnalyticsRepository
    from tidings.store.budgets import BudgetRepository
    from tidings.store.campaign_sends import StepRepository
    from tidings.store.campaigns import CampaignRepository

logger = logging.getLogger(__name__)

STANDARD_VARIABLES = ("firstName", "lastName", "fullName", "email", "phone")
CAMPAIGN_DETAILS = ("imageUrl", "testimonial", "testimonialAuthor", "postalAddress", "season")
_DETAIL_LIMITS = {"testimonial": 1000, "testimonialAuthor": 200, "postalAddress": 300}
MAX_NAME = 200
MAX_AUDIENCE = 200
MAX_TOPIC = 500
MAX_VARIABLES = 50
MAX_VARIABLE_TEXT = 1000
MAX_SUBJECT = 300
MAX_PREHEADER = 500
MAX_DELAY = {"days": 365, "seconds": 86_400}
DEFAULT_DELAY_SECONDS = 60
MAX_TAGS = 20
DELETABLE = (CampaignStatus.DRAFT, *CampaignStatus.FINAL)
MODEL_BUDGET = "campaigns:model"  # the rate budget of model-written campaigns, per user
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ALIAS = re.compile(r"^[^\W\d_][^\W_]*$")
_PARTS = ("subject", "preheader", "text", "html")


@dataclass(frozen=True)
class NewCampaign:
    """POST /campaigns as the service takes it (unset values take the settings' defaults)."""

    name: str
    template: str | None = None
    target_audience: str | None = None
    tone: str | None = None
    include_images: bool = False
    brand_voice: Any = None
    email_count: int | None = None
    delay: int | None = None  # between emails, in `delay_unit`
    delay_unit: str = "days"
    topic: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)
    recipients: Sequence[RecipientInput] | None = None
    segment: Segment | None = None
    auto_schedule: bool | None = None
    use_model: bool = False


@dataclass(frozen=True)
class EmailChange:
    n: int
    subject: str | None = None
    preheader: str | None = None
    text: str | None = None
    html: str | None = None
    delay: int | None = None


KEEP: Any = object()  # "not sent" for the fields of a change that may be set to None


@dataclass(frozen=True)
class CampaignChange:
    name: str | None = None
    variables: Mapping[str, Any] | None = None
    emails: Sequence[EmailChange] = ()
    recipients: Sequence[RecipientInput] | None = None
    segment: Segment | None = KEEP  # None clears it
    version: int | None = None  # change only this version (409 campaign_busy otherwise)


@dataclass(frozen=True)
class CampaignOutcome:
    campaign: Campaign
    estimated_duration: int | float
    recommendations: list[Recommendation]


@dataclass(frozen=True)
class Preview:
    email: RenderedEmail
    role: str  # the email's role in the sequence
    source: str  # "list": a recipient of the campaign's list; "crm": a CRM client; "none"
    unsubscribe_url: str


def _invalid(message: str, code: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, details, code=code)


class CampaignService:
    def __init__(
        self,
        campaigns: CampaignRepository,
        settings: Callable[[], Settings],
        personalization: Callable[[], Personalization],
        *,
        analytics: AnalyticsRepository | None = None,
        bedrock: Callable[[], Any] | None = None,
        budgets: BudgetRepository | None = None,
        auto_scheduler: Callable[[str, Campaign], Campaign] | None = None,
        plans: StepRepository | None = None,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.campaigns = campaigns
        self.settings = settings
        self.personalization = personalization
        self.analytics = analytics
        self.bedrock = bedrock
        self.budgets = budgets
        self.auto_scheduler = auto_scheduler
        self.plans = plans  # a scheduled campaign's steps, audience and sends, deleted with it
        self.clock = clock

    # -- generation ---------------------------------------------------------------------------------

    def create(self, user_id: str, new: NewCampaign) -> CampaignOutcome:
        s = self.settings()
        name = _name(new.name)
        template = new.template or s.campaign_default_template
        if template not in TEMPLATES:
            raise _invalid(f"unknown template {template!r}", "unknown_template", supported=list(TEMPLATES))
        plan = PLANS[template]
        count = new.email_count if new.email_count is not None else plan.length
        if not 1 <= count <= s.campaign_max_emails:
            raise _invalid(
                f"emailCount must be 1 to {s.campaign_max_emails}",
                "invalid_email_count",
                field="emailCount",
                max=s.campaign_max_emails,
            )
        unit = self._unit(new.delay_unit)
        default_delay = s.campaign_default_delay_days if unit == "days" else DEFAULT_DELAY_SECONDS
        delay = _delay(new.delay if new.delay is not None else default_delay, unit, "delayDays")
        audience = _optional_text(new.target_audience, MAX_AUDIENCE, "targetAudience")
        topic = _optional_text(new.topic, MAX_TOPIC, "topic") or plan.default_topic
        if not topic:
            raise _invalid(
                "a custom campaign needs a topic: what it is about", "topic_required", field="topic"
            )
        details = dict(new.details)
        extra = _campaign_details(details)
        variables = _variables(new.variables)
        request = _content_request(template, topic, new.tone, new.brand_voice, details, new.use_model)
        _required_details(template, request.details)
        recipients, segment = self._audience(user_id, new.recipients, new.segment)
        auto = s.campaign_auto_schedule if new.auto_schedule is None else new.auto_schedule
        if auto and self.auto_scheduler is None:
            raise _invalid(
                "this deployment cannot schedule campaigns on their own: leave autoSchedule off and "
                "schedule it with POST /campaigns/{campaignId}/schedule",
                "auto_schedule_unavailable",
                field="autoSchedule",
            )
        if self.campaigns.count(user_id) >= s.campaign_max_per_user:  # before any model call
            raise limit_reached(s.campaign_max_per_user)
        season = None
        if template == "seasonal":
            season = _season(extra.get("season")) or SEASON_OF_MONTH[self.clock.now().month]
        brief = Brief(
            template=template,
            count=count,
            delay=delay,
            request=request,
            audience=audience,
            extra=extra,
            include_images=new.include_images,
            season=season,
            sender_name="{{ agentName }}" if variables.get("agentName") not in (None, "") else None,
        )
        emails, source, model_id = self._write(user_id, brief, new.use_model, s)
        now = self.clock.now()
        campaign = Campaign(
            user_id=user_id,
            campaign_id=new_campaign_id(now),
            name=name,
            template=template,
            status=CampaignStatus.DRAFT,
            emails=emails,
            created_at=now,
            updated_at=now,
            target_audience=audience,
            customization=Customization(
                tone=request.tone, include_images=new.include_images, brand_voice=new.brand_voice
            ),
            topic=topic,
            details={**request.details, **extra},
            delay_unit=unit,
            auto_schedule=auto,
            segment=segment,
            variables=variables,
            source=source,
            model_id=model_id,
        )
        check_emails(campaign)
        stored = self.campaigns.create(campaign, limit=s.campaign_max_per_user)
        if recipients:
            self.campaigns.put_recipients(user_id, stored.campaign_id, recipients)
            stored = self._get(user_id, stored.campaign_id)
        if auto and self.auto_scheduler is not None:
            stored = self.auto_scheduler(user_id, stored)
        return self.outcome(stored)

    def _unit(self, unit: str) -> str:
        if unit not in DELAY_UNITS:
            raise _invalid(
                f"unknown delayUnit {unit!r}",
                "invalid_delay_unit",
                field="delayUnit",
                supported=list(DELAY_UNITS),
            )
        if unit == "seconds" and not self.settings().campaign_seconds_delays_allowed:
            raise _invalid(
                "delays in seconds are for tests and demos, and this deployment does not allow them "
                "(TIDINGS_CAMPAIGN_SECONDS_DELAYS_ALLOWED)",
                "seconds_delays_not_allowed",
                field="delayUnit",
            )
        return unit

    def _write(
        self, user_id: str, brief: Brief, use_model: bool, s: Settings
    ) -> tuple[tuple[CampaignEmail, ...], str, str | None]:
        if not use_model:
            return write_emails(brief), "template", None
        from tidings.campaigns.model import write_with_model

        model_id = s.bedrock_model_id.strip()
        if not model_id or self.bedrock is None:
            raise _invalid(
                "useModel is set but no model is configured: set TIDINGS_BEDROCK_MODEL_ID to a Bedrock "
                "model or inference profile id, or write from the templates (useModel: false)",
                "model_not_configured",
                field="useModel",
            )
        self._model_budget(user_id, s)
        written = write_with_model(self.bedrock(), model_id, brief, flow(brief.count))
        return write_emails(brief, written), "bedrock", model_id

    def _model_budget(self, user_id: str, s: Settings) -> None:
        """One of the user's model-written campaigns of the day (each is a paid Bedrock call), or 429."""
        if self.budgets is None:
            return
        now = self.clock.now()
        limits = (Limit(s.campaign_model_daily_limit, 86_400),)
        reservation = self.budgets.reserve_limits(user_id, MODEL_BUDGET, limits, now)
        if not reservation.granted:
            wait = retry_after_seconds(reservation.available_at or now, now)
            raise TooManyRequests(
                f"a user may have {s.campaign_model_daily_limit} campaigns written by the model a day; "
                f"try again in {wait} s, or write from the templates (useModel: false)",
                {"limit": s.campaign_model_daily_limit, "windowSeconds": 86_400, "retryAfterSeconds": wait},
                code="model_limit_reached",
            )

    def _audience(
        self, user_id: str, recipients: Sequence[RecipientInput] | None, segment: Segment | None
    ) -> tuple[tuple[Recipient, ...] | None, Segment | None]:
        if recipients is not None and segment is not None:
            raise _invalid(
                "a campaign goes to a list (recipients) or a CRM segment, not both",
                "recipients_and_segment",
                fields=["recipients", "segment"],
            )
        checked = check_recipients(recipients, MAX_RECIPIENTS) if recipients is not None else None
        if segment is not None:
            segment = self._segment(user_id, segment)
        return checked, segment

    def _segment(self, user_id: str, segment: Segment) -> Segment:
        tags = tuple(dict.fromkeys(t.strip() for t in segment.tags if t.strip()))
        if len(tags) > MAX_TAGS or any(len(t) > 100 for t in tags):
            raise _invalid(f"a segment names at most {MAX_TAGS} tags of 100 characters", "invalid_segment")
        stage = _optional_text(segment.lifecycle_stage, 100, "segment.lifecycleStage")
        # 404 integration_not_found, 422 not_a_crm, 409 integration_not_connected
        integration = self.personalization().clients.settings.resolve(user_id, segment.integration_id)
        return Segment(integration.integration_id, tags, stage)

    # -- reading --------------------------------------------------------------------------------------

    def get(self, user_id: str, campaign_id: str) -> CampaignOutcome:
        return self.outcome(self._get(user_id, campaign_id))

    def _get(self, user_id: str, campaign_id: str) -> Campaign:
        found = self.campaigns.get(user_id, campaign_id)
        if found is None:
            raise not_found(campaign_id)
        return found

    def list(
        self, user_id: str, *, status: str | None = None, limit: int = 25, cursor: str | None = None
    ) -> tuple[builtins.list[Campaign], str | None]:
        if status is not None and status not in CampaignStatus.ALL:
            raise _invalid(
                f"unknown status {status!r}",
                "invalid_status",
                field="status",
                supported=list(CampaignStatus.ALL),
            )
        if not 1 <= limit <= MAX_PAGE:
            raise _invalid(f"limit must be 1 to {MAX_PAGE}", "invalid_limit", field="limit")
        try:
            return self.campaigns.list(user_id, status=status, limit=limit, cursor=cursor)
        except ValueError:
            raise _invalid(
                "the cursor is not one this listing issued", "invalid_cursor", field="cursor"
            ) from None

    def outcome(self, campaign: Campaign) -> CampaignOutcome:
        return CampaignOutcome(
            campaign, estimated_duration(campaign), recommend(campaign, self._samples(campaign))
        )

    def _samples(self, campaign: Campaign) -> dict[Platform, builtins.list[EngagementSample]]:
        """The user's measured posts per platform, read only once the campaign has a send time."""
        if campaign.window is None or self.analytics is None:
            return {}
        found = {p: self.analytics.samples(campaign.user_id, p) for p in Platform}
        return {p: samples for p, samples in found.items() if samples}

    # -- changing ---------------------------------------------------------------------------------------

    def patch(self, user_id: str, campaign_id: str, change: CampaignChange) -> CampaignOutcome:
        current = self._get(user_id, campaign_id)
        if change.version is not None and change.version != current.version:
            raise Conflict(
                f"the campaign is at version {current.version}, not {change.version}: read it again",
                {"version": current.version},
                code="campaign_busy",
            )
        if current.status not in CampaignStatus.EDITABLE:
            raise Conflict(
                f"a {current.status} campaign cannot be changed (only draft and paused ones can)",
                {"status": current.status, "editable": list(CampaignStatus.EDITABLE)},
                code="campaign_not_editable",
            )
        segment_sent = change.segment is not KEEP
        if current.status == CampaignStatus.PAUSED and (change.recipients is not None or segment_sent):
            raise Conflict(
                "a paused campaign keeps the audience it was scheduled with: cancel it and schedule a "
                "new one for another audience",
                {"status": current.status},
                code="campaign_audience_fixed",
            )
        recipients, segment = self._audience(
            user_id, change.recipients, change.segment if segment_sent else None
        )
        updated = replace(current, updated_at=self.clock.now())
        if change.name is not None:
            updated = replace(updated, name=_name(change.name))
        if change.variables is not None:
            updated = replace(updated, variables=_variables(change.variables))
        if change.emails:
            updated = replace(updated, emails=_changed_emails(current, change.emails))
        if recipients is not None:
            updated = replace(updated, segment=None)
        if segment_sent:
            updated = replace(updated, segment=segment)
        check_emails(updated)
        stored = self.campaigns.update(updated, current.version)
        if recipients is not None:
            self.campaigns.put_recipients(user_id, campaign_id, recipients)
        elif segment is not None and current.recipient_count:
            self.campaigns.put_recipients(user_id, campaign_id, [])
        if recipients is not None or segment is not None:
            stored = self._get(user_id, campaign_id)
        return self.outcome(stored)

    def delete(self, user_id: str, campaign_id: str) -> None:
        current = self._get(user_id, campaign_id)
        if current.status not in DELETABLE:
            raise Conflict(
                f"a {current.status} campaign still holds schedules and planned sends: cancel it first "
                "(POST /campaigns/{campaignId}/cancel), then delete it",
                {"status": current.status, "deletable": list(DELETABLE)},
                code="campaign_not_deletable",
            )
        if self.plans is not None:
            self.plans.delete_plan(user_id, campaign_id)
        self.campaigns.delete(user_id, campaign_id, expected_version=current.version)

    # -- preview ------------------------------------------------------------------------------------------

    def preview(
        self,
        user_id: str,
        campaign_id: str,
        n: int,
        *,
        client_id: str | None = None,
        email: str | None = None,
    ) -> Preview:
        """Email `n` for the list's recipient `email`, for the CRM client `client_id`, or (with neither)
        for the list's first recipient, or with the campaign's values only when it has none, with its
        bodies as the message carries them. The unsubscribe link is PREVIEW_UNSUBSCRIBE_URL, which
        leads nowhere."""
        campaign = self._get(user_id, campaign_id)
        if client_id is not None and email is not None:
            raise _invalid(
                "preview for one recipient: give clientId or email, not both",
                "one_recipient",
                fields=["clientId", "email"],
            )
        if campaign.email(n) is None:
            raise NotFound(
                f"the campaign has {len(campaign.emails)} emails",
                {"n": n, "emails": len(campaign.emails)},
                code="email_not_found",
            )
        recipient: Recipient | None = None
        source = "none"
        if email is not None:
            try:
                address = normalise_email(email)
            except ValueError as exc:
                raise _invalid(f"email {exc}", "invalid_email", field="email") from None
            recipient = self.campaigns.recipient(user_id, campaign_id, address)
            if recipient is None:
                raise NotFound(
                    "no such recipient in the campaign's list", {"email": address}, code="recipient_not_found"
                )
            source = "list"
        elif client_id is not None:
            source = "crm"
        else:
            first, _ = self.campaigns.recipient_page(user_id, campaign_id, limit=1)
            if first:
                recipient, source = first[0], "list"
        rendered = EmailRenderer(self.personalization()).render(
            user_id,
            campaign,
            n,
            recipient=recipient,
            client_id=client_id,
            unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL,
        )
        # the bodies as the message carries them (tidings.campaigns.message): the hidden preheader first
        url = PREVIEW_UNSUBSCRIBE_URL
        sent = replace(
            rendered,
            text=text_with_unsubscribe(rendered.text, url),
            html=with_preheader(html_with_unsubscribe(rendered.html, url), rendered.preheader),
        )
        return Preview(sent, campaign.emails[n - 1].role, source, url)


# -- checks ------------------------------------------------------------------------------------------------


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise _invalid(f"name must be 1 to {MAX_NAME} characters", "invalid_name", field="name")
    return name


def _optional_text(raw: str | None, limit: int, field_name: str) -> str | None:
    if raw is None:
        return None
    text = " ".join(raw.split())
    if len(text) > limit:
        raise _invalid(f"{field_name} is longer than {limit} characters", "invalid_field", field=field_name)
    return text or None


def _delay(value: int, unit: str, field_name: str) -> int:
    top = MAX_DELAY[unit]
    if not 0 <= value <= top:
        raise _invalid(f"{field_name} must be 0 to {top} {unit}", "invalid_delay", field=field_name, max=top)
    return value


def _season(raw: str | None) -> str | None:
    if raw is None:
        return None
    season = SEASON_ALIASES.get(raw.strip().lower(), raw.strip().lower())
    if season not in SEASONS:
        raise _invalid(
            f"unknown season {raw!r}", "invalid_details", field="details.season", supported=[*SEASONS, "fall"]
        )
    return season


def _refuse_references(value: Any, where: str) -> None:
    """Workflow references (`${...}`) mean nothing here; the content checks would let them through."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        raise _invalid(
            f"{where} is a workflow reference; give the value itself", "invalid_details", field=where
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_references(item, f"{where}.{key}")
    if isinstance(value, list):
        for item in value:
            _refuse_references(item, where)


def _campaign_details(details: dict[str, Any]) -> dict[str, str]:
    """The campaign's own details taken out of `details` (which keeps the content package's), checked."""
    extra: dict[str, str] = {}
    for key in CAMPAIGN_DETAILS:
        if key not in details:
            continue
        value = details.pop(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise _invalid(f"details.{key} must be text", "invalid_details", field=f"details.{key}")
        text = " ".join(value.split())
        if key == "imageUrl":
            if not text.lower().startswith("https://") or find_links(text) != [text] or len(text) > 2048:
                raise _invalid(
                    "details.imageUrl must be one https URL", "invalid_details", field="details.imageUrl"
                )
        elif key == "season":
            text = _season(text) or text
        elif len(text) > _DETAIL_LIMITS[key]:
            raise _invalid(
                f"details.{key} is longer than {_DETAIL_LIMITS[key]} characters",
                "invalid_details",
                field=f"details.{key}",
            )
        extra[key] = text
    return extra


def _content_request(
    template: str, topic: str, tone: str | None, brand_voice: Any, details: dict[str, Any], use_model: bool
) -> ContentRequest:
    _refuse_references(details, "details")
    _refuse_references(brand_voice, "brandVoice")
    _refuse_references(tone, "tone")
    _refuse_references(topic, "topic")
    params: dict[str, Any] = {
        "template": "email_newsletter",
        "topic": topic,
        "tone": tone or DEFAULT_TONE,
        "brandVoice": brand_voice,
        "details": details,
        "useModel": use_model,
    }
    problems = check_params(params)
    if problems:
        raise _invalid("; ".join(problems), "invalid_campaign", problems=problems)
    return parse_request(params)


def _required_details(template: str, details: Mapping[str, Any]) -> None:
    needs = PLANS[template].needs_any
    if needs and not any(details.get(key) not in (None, "", []) for key in needs):
        which = needs[0] if len(needs) == 1 else f"one of {', '.join(needs)}"
        raise _invalid(
            f"a {template} campaign is written from details.{which}",
            "missing_details",
            template=template,
            needsAnyOf=list(needs),
        )


def _variables(raw: Mapping[str, Any]) -> dict[str, Any]:
    if len(raw) > MAX_VARIABLES:
        raise _invalid(f"at most {MAX_VARIABLES} variables", "invalid_variables", field="variables")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if not _NAME.match(name) or len(name) > 64:
            raise _invalid(
                f"variable name {name!r} must be a letter or _ followed by letters, digits or _",
                "invalid_variables",
                field=f"variables.{name}",
            )
        if name in (*STANDARD_VARIABLES, UNSUBSCRIBE_VARIABLE):
            raise _invalid(
                f"{name} is given by each recipient (or the sender), not by the campaign",
                "invalid_variables",
                field=f"variables.{name}",
            )
        if isinstance(value, str) and len(value) > MAX_VARIABLE_TEXT:
            raise _invalid(
                f"variables.{name} is longer than {MAX_VARIABLE_TEXT} characters",
                "invalid_variables",
                field=f"variables.{name}",
            )
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _invalid(f"variables.{name} must be text, a number or true/false", "invalid_variables")
        out[name] = value
    return out


def _changed_emails(current: Campaign, changes: Sequence[EmailChange]) -> tuple[CampaignEmail, ...]:
    emails = {e.n: e for e in current.emails}
    seen: set[int] = set()
    for change in changes:
        if change.n not in emails:
            raise _invalid(
                f"the campaign has no email {change.n} (it has {len(emails)})",
                "unknown_email",
                field="emails",
                n=change.n,
            )
        if change.n in seen:
            raise _invalid(
                f"email {change.n} is changed twice", "duplicate_email", field="emails", n=change.n
            )
        seen.add(change.n)
        email = emails[change.n]
        for part, limit in (("subject", MAX_SUBJECT), ("preheader", MAX_PREHEADER)):
            value = getattr(change, part)
            if value is not None and (len(value) > limit or (part == "subject" and not value.strip())):
                raise _invalid(
                    f"email {change.n}: {part} must be 1 to {limit} characters",
                    "invalid_email_content",
                    n=change.n,
                    part=part,
                )
        delay = email.delay if change.delay is None else _delay(change.delay, current.delay_unit, "delay")
        emails[change.n] = replace(
            email,
            subject=change.subject if change.subject is not None else email.subject,
            preheader=change.preheader if change.preheader is not None else email.preheader,
            text=change.text if change.text is not None else email.text,
            html=change.html if change.html is not None else email.html,
            delay=delay,
        )
    return tuple(emails[n] for n in sorted(emails))


def allowed_variables(campaign: Campaign) -> set[str]:
    return {*STANDARD_VARIABLES, *campaign.details, *campaign.variables, UNSUBSCRIBE_VARIABLE}


def check_emails(campaign: Campaign) -> None:
    """Every part of every email a template the sandbox compiles, using only variables a recipient
    or the campaign supplies (see the module docstring), and each body keeping the unsubscribe
    placeholder. Raises the sandbox's errors (with the email and part in `details`), 422
    `unknown_variables` or 422 `unsubscribe_missing`."""
    from tidings.crm.fields import RESERVED_ALIASES
    from tidings.crm.personalize import template_variables

    allowed = allowed_variables(campaign)
    unknown: dict[str, list[str]] = {}
    missing_unsubscribe: list[dict[str, Any]] = []
    for email in campaign.emails:
        names: set[str] = set()
        for part in _PARTS:
            try:
                used = template_variables(getattr(email, part))
            except TidingsError as exc:
                exc.details = {**exc.details, "n": email.n, "part": part}
                exc.message = f"email {email.n} {part}: {exc.message}"
                raise
            names |= used
            if part in ("text", "html") and UNSUBSCRIBE_VARIABLE not in used:
                missing_unsubscribe.append({"n": email.n, "part": part})
        strange = names - allowed
        if campaign.segment is not None:
            strange = {name for name in strange if not _ALIAS.match(name) or name in RESERVED_ALIASES}
        if strange:
            unknown[str(email.n)] = sorted(strange)
    if unknown:
        every = sorted({name for found in unknown.values() for name in found})
        raise _invalid(
            f"the emails use variables no recipient or campaign value supplies: {', '.join(every)}",
            "unknown_variables",
            unknown=every,
            emails=unknown,
            allowed=sorted(allowed),
        )
    if missing_unsubscribe:
        raise _invalid(
            f"every text and HTML body must keep the unsubscribe link: {{{{ {UNSUBSCRIBE_VARIABLE} }}}}",
            "unsubscribe_missing",
            missing=missing_unsubscribe,
        )
