"""One campaign email rendered for one recipient, exactly as it is sent: what the preview shows and what
the sender puts in the message.

Values, from the weakest: the CRM client's fields (when the recipient has a `clientId`, read once
through the personalisation use-case's client directory and its cache, from the campaign's segment
CRM or the user's default CRM), then the campaign's `details` and `variables`, then the recipient's
own `firstName`, `lastName`, `fullName` and `email` from the list, then `unsubscribeUrl`, the
recipient's unsubscribe link. An empty value never hides a stronger source's: a list recipient
without a first name keeps the CRM's. Each of the four parts (subject, preheader, text, HTML) is
rendered by `tidings.crm.personalize.personalize`, the sandbox the personalisation use-case renders
with, in the client's communication style; a variable with no value is a 422 `missing_variables`
naming it.

HTML. Every value that goes into the HTML body is HTML-escaped first (text inside lists and objects
too; numbers, dates and yes/no values need no escaping and keep their formats), so a name like
`<script>` or `Tom & Jerry` from a list or a CRM shows as text and cannot add markup; the body's own
literal text was escaped when it was written (`tidings.campaigns.content.html_source`). Subject and
preheader are single lines: line breaks in values become spaces, so no header can be injected.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tidings.campaigns.content import UNSUBSCRIBE_VARIABLE
from tidings.core.errors import NotFound
from tidings.models.campaigns import Campaign, Recipient

if TYPE_CHECKING:
    from tidings.crm.personalization import Personalization
    from tidings.models.crm import CrmRecord

# The link a preview shows in place of a recipient's own: it can never resolve (RFC 6761 .invalid).
PREVIEW_UNSUBSCRIBE_URL = "https://unsubscribe.invalid/preview-only"


@dataclass(frozen=True)
class RenderedEmail:
    n: int
    subject: str
    preheader: str
    text: str
    html: str
    email: str | None  # the recipient's address (None: a CRM client without one, or nobody)
    client_id: str | None
    integration_id: str | None
    fields: list[str]  # the client's own fields the email used
    style: str | None  # the client's communication style applied
    language: str | None


def recipient_values(recipient: Recipient | None) -> dict[str, Any]:
    if recipient is None:
        return {"email": None}
    names = [n for n in (recipient.first_name, recipient.last_name) if n]
    return {
        "firstName": recipient.first_name,
        "lastName": recipient.last_name,
        "fullName": " ".join(names) or None,
        "email": recipient.email,
    }


def campaign_values(campaign: Campaign) -> dict[str, Any]:
    return {**campaign.details, **campaign.variables}


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in (None, "")}


def escape_values(value: Any) -> Any:
    """`value` with every text in it HTML-escaped (quotes included)."""
    if isinstance(value, str):
        return html.escape(value, quote=True)
    if isinstance(value, Mapping):
        return {key: escape_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [escape_values(item) for item in value]
    return value


def _line(text: str) -> str:
    return " ".join(text.split())


class EmailRenderer:
    def __init__(self, personalization: Personalization) -> None:
        self.personalization = personalization

    def render(
        self,
        user_id: str,
        campaign: Campaign,
        n: int,
        *,
        recipient: Recipient | None,
        unsubscribe_url: str,
        client_id: str | None = None,
    ) -> RenderedEmail:
        """Email `n` of `campaign` for `recipient` (or for the CRM client `client_id`, or with the
        campaign's values only when both are None). Raises NotFound `email_not_found` for a number the
        campaign does not have, the client lookup's errors and the template's."""
        from tidings.crm.fields import template_values
        from tidings.crm.personalize import personalize

        email = campaign.email(n)
        if email is None:
            raise NotFound(
                f"the campaign has {len(campaign.emails)} emails",
                {"n": n, "emails": len(campaign.emails)},
                code="email_not_found",
            )
        client = (recipient.client_id if recipient is not None else None) or client_id
        integration_id = campaign.segment.integration_id if campaign.segment is not None else None
        record: CrmRecord | None = None
        resolved_integration = None
        if client is not None:
            lookup = self.personalization.clients.get(user_id, client, integration_id=integration_id)
            record = lookup.record
            resolved_integration = lookup.integration.integration_id
        ours = {
            **_given(campaign_values(campaign)),
            **_given(recipient_values(recipient)),
            UNSUBSCRIBE_VARIABLE: unsubscribe_url,
        }
        plain = {
            part: personalize(getattr(email, part), record, variables=ours, content_type="email")
            for part in ("subject", "preheader", "text")
        }
        theirs = _given(template_values(record)) if record is not None else {}
        escaped = escape_values({**theirs, **ours})
        body = personalize(email.html, record, variables=escaped, content_type="email")
        own = set(template_values(record)) if record is not None else set()
        used = {name for done in (*plain.values(), body) for name in done.variables}
        address = ours.get("email") or (record.email if record is not None else None)
        return RenderedEmail(
            n=n,
            subject=_line(plain["subject"].content),
            preheader=_line(plain["preheader"].content),
            text=plain["text"].content,
            html=body.content,
            email=address,
            client_id=record.id if record is not None else None,
            integration_id=resolved_integration,
            fields=sorted((used & own) - set(ours)),
            style=body.style,
            language=body.language,
        )
