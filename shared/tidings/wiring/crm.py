"""The composition root's CRM part: the CRM settings, the in-memory client cache of this function
instance, the client directory and the services the CRM routes call (with the activity log of
`wiring.crm_delivery`)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tidings.api.crm import CrmServices
    from tidings.crm.cache import ClientCache
    from tidings.crm.clients import ClientDirectory
    from tidings.crm.personalization import Personalization
    from tidings.crm.settings import CrmSettingsService
    from tidings.crm.sync_function import CrmSync
    from tidings.scheduling.personalization import ClientContent, PersonalizedTexts, PostPersonalizer


@lru_cache(maxsize=1)
def crm_settings_service() -> CrmSettingsService:
    from tidings.crm.settings import CrmSettingsService
    from tidings.store.crm_settings import DynamoCrmSettingsRepository

    return CrmSettingsService(
        DynamoCrmSettingsRepository(get_settings().table_name), root.integration_directory(), DEFAULT_CLOCK
    )


@lru_cache(maxsize=1)
def client_cache() -> ClientCache:
    """One per function instance: client data is kept in this process's memory only."""
    from tidings.crm.cache import ClientCache

    return ClientCache(max_entries=get_settings().crm_cache_max_entries, clock=DEFAULT_CLOCK)


@lru_cache(maxsize=1)
def client_directory() -> ClientDirectory:
    from tidings.crm.clients import ClientDirectory

    credentials, connectors, monitoring = root.integration_parts()
    return ClientDirectory(
        settings=crm_settings_service(),
        credentials=credentials,
        connectors=connectors,
        monitoring=monitoring,
        cache=client_cache(),
        clock=DEFAULT_CLOCK,
        max_retries=get_settings().crm_max_retries,
    )


@lru_cache(maxsize=1)
def personalization() -> Personalization:
    """Templates rendered for a client of the user's CRM (the routes, posts written for a client)."""
    from tidings.crm.personalization import Personalization

    return Personalization(client_directory(), DEFAULT_CLOCK)


class _PostPersonalizer:
    """The scheduler's personalizer, built on first use: a post without a client never pays for the
    CRM's collaborators (credentials, connectors, the template engine)."""

    def personalize_texts(
        self, user_id: str, client: ClientContent, texts: Sequence[str], content_type: str | None
    ) -> PersonalizedTexts:
        return personalization().personalize_texts(user_id, client, texts, content_type)


def post_personalizer() -> PostPersonalizer:
    return _PostPersonalizer()


@lru_cache(maxsize=1)
def crm_services() -> CrmServices:
    from tidings.api.crm import CrmServices
    from tidings.wiring.crm_delivery import activity_log

    return CrmServices(
        clients=client_directory(),
        settings=crm_settings_service(),
        cache=client_cache(),
        activities=activity_log(),
        personalization=personalization(),
    )


@lru_cache(maxsize=1)
def crm_sync() -> CrmSync:
    """The crm_sync function: activity delivery, and published posts for a client as activities."""
    from tidings.crm.post_activities import PublishedPostActivities
    from tidings.crm.sync_function import CrmSync
    from tidings.wiring.crm_delivery import activity_log, crm_activity_delivery

    return CrmSync(crm_activity_delivery(), [PublishedPostActivities(crm_settings_service(), activity_log())])
