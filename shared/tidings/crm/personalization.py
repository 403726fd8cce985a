"""Personalisation for a user: a template rendered for one client of the user's CRM (read through the
client cache), or with the caller's variables only. One use-case serves `POST /crm/personalize`,
posts written for a client (`tidings.scheduling.personalization.PostPersonalizer`) and the
workflows' `personalize` action.

`fields` names the client's own fields a rendering used: the variables the template uses that the
client's record supplied (a caller's variable of the same name wins, so it is not the client's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.crm.clients import ClientDirectory, ClientLookup
from tidings.models.integrations import Integration
from tidings.models.posts import PostPersonalization
from tidings.scheduling.personalization import ClientContent, PersonalizedTexts


@dataclass(frozen=True)
class PersonalizationRequest:
    template: str
    client_id: str | None = None
    integration_id: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    fallbacks: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass(frozen=True)
class PersonalizationResult:
    content: str
    variables: dict[str, Any]  # every variable the template used, as shown
    missing: list[str]  # the variables filled from fallbacks
    style: str | None
    language: str | None
    client_id: str | None
    integration: Integration | None
    fields: list[str]  # the client's fields the content used
    personalized_at: datetime


class Personalization:
    def __init__(self, clients: ClientDirectory, clock: Clock = DEFAULT_CLOCK) -> None:
        self.clients = clients
        self.clock = clock

    def personalize(self, user_id: str, request: PersonalizationRequest) -> PersonalizationResult:
        """Raises the client lookup's errors (400 invalid_client_id, 404 client_not_found, 503
        crm_unavailable, ...) and the template's (422 missing_variables, template_invalid, ...)."""
        lookup = self._lookup(user_id, request.client_id, request.integration_id)
        [result] = self._render(lookup, [request.template], request)
        return result

    def personalize_texts(
        self, user_id: str, client: ClientContent, texts: Sequence[str], content_type: str | None
    ) -> PersonalizedTexts:
        """A post's texts for its client (the PostPersonalizer of the scheduler). A post's own
        content type (text, image, link...) is not a template content type: posts render as "post"."""
        lookup = self._lookup(user_id, client.client_id, client.integration_id)
        assert lookup is not None
        request = PersonalizationRequest(
            template="", variables=client.variables, fallbacks=client.fallbacks, content_type="post"
        )
        results = self._render(lookup, texts, request)
        fields = sorted({name for result in results for name in result.fields})
        return PersonalizedTexts(
            texts=[result.content for result in results],
            personalization=PostPersonalization(
                client_id=lookup.record.id,
                integration_id=lookup.integration.integration_id,
                provider=lookup.integration.provider,
                fields=fields,
                personalized_at=self.clock.now(),
            ),
        )

    def _lookup(self, user_id: str, client_id: str | None, integration_id: str | None) -> ClientLookup | None:
        if client_id is None:
            return None
        return self.clients.get(user_id, client_id, integration_id=integration_id)

    def _render(
        self, lookup: ClientLookup | None, templates: Sequence[str], request: PersonalizationRequest
    ) -> list[PersonalizationResult]:
        # Jinja2 is imported on first use: a handler that never personalises does not pay for it.
        from tidings.crm.fields import template_values
        from tidings.crm.personalize import personalize

        record = lookup.record if lookup is not None else None
        own = set(template_values(record)) if record is not None else set()
        given = {name for name, value in request.variables.items() if value not in (None, "")}
        now = self.clock.now()
        results = []
        for template in templates:
            done = personalize(
                template,
                record,
                variables=request.variables,
                fallbacks=request.fallbacks,
                content_type=request.content_type,
            )
            results.append(
                PersonalizationResult(
                    content=done.content,
                    variables=done.variables,
                    missing=done.missing,
                    style=done.style,
                    language=done.language,
                    client_id=record.id if record is not None else None,
                    integration=lookup.integration if lookup is not None else None,
                    fields=sorted((set(done.variables) & own) - given - set(done.missing)),
                    personalized_at=now,
                )
            )
        return results
