"""CRM settings: which CRM a request uses (the one named, the chosen default while connected, else the
first connected by creation time), per-integration cache TTL and write-back, partial changes checked
whole before anything is stored."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from crm_fakes import CrmWorld, FakeCrm, crm_world
from integration_fakes import USER, FakeConnector

from tidings.core.errors import Conflict, NotFound, TidingsError, ValidationFailed
from tidings.crm.settings import CrmSettingsService, IntegrationChange, SettingsChange
from tidings.store.crm_settings import CrmSettings
from tidings.store.memory.crm_settings import InMemoryCrmSettingsRepository


@pytest.fixture
def w() -> CrmWorld:
    return crm_world(
        FakeCrm(),
        FakeCrm(provider="followupboss"),
        FakeConnector(type="analytics", provider="ga4"),
    )


def later(w: CrmWorld) -> None:
    w.base.clock.advance(timedelta(minutes=5))


def code(error: pytest.ExceptionInfo[TidingsError]) -> tuple[int, str]:
    return error.value.status, error.value.code


def test_without_a_crm_there_is_no_default(w: CrmWorld) -> None:
    with pytest.raises(Conflict) as refused:
        w.settings.resolve(USER, None)

    assert code(refused) == (409, "no_crm_connected")
    assert w.settings.get(USER).effective_integration_id is None


def test_the_first_connected_crm_by_creation_time_is_the_default(w: CrmWorld) -> None:
    first = w.crm("followupboss", "Office FUB")
    later(w)
    second = w.crm("hubspot")

    assert w.settings.resolve(USER, None).integration_id == first.integration_id

    w.base.lifecycle.disconnect(USER, first.integration_id)

    assert w.settings.resolve(USER, None).integration_id == second.integration_id


def test_the_chosen_default_wins_while_it_is_connected(w: CrmWorld) -> None:
    first = w.crm("followupboss")
    later(w)
    second = w.crm("hubspot")
    later(w)
    third = w.crm("hubspot", "Second portal")

    view = w.settings.put(USER, SettingsChange(default_integration_id=second.integration_id))

    assert view.settings.default_integration_id == second.integration_id
    assert view.effective_integration_id == second.integration_id
    assert w.settings.resolve(USER, None).integration_id == second.integration_id

    w.base.lifecycle.disconnect(USER, second.integration_id)  # no longer usable: the rule falls back

    assert w.settings.resolve(USER, None).integration_id == first.integration_id
    w.base.lifecycle.disconnect(USER, first.integration_id)
    assert w.settings.resolve(USER, None).integration_id == third.integration_id

    cleared = w.settings.put(USER, SettingsChange(default_integration_id=None))
    assert cleared.settings.default_integration_id is None


def test_a_named_integration_must_be_a_connected_crm_of_the_user(w: CrmWorld) -> None:
    hub = w.crm("hubspot")
    ga4 = w.analytics()

    assert w.settings.resolve(USER, hub.integration_id) == hub
    with pytest.raises(NotFound) as unknown:
        w.settings.resolve(USER, "int-nope")
    with pytest.raises(NotFound) as others:
        w.settings.resolve("someone-else", hub.integration_id)
    with pytest.raises(ValidationFailed) as not_crm:
        w.settings.resolve(USER, ga4.integration_id)
    w.base.lifecycle.disconnect(USER, hub.integration_id)
    with pytest.raises(Conflict) as disconnected:
        w.settings.resolve(USER, hub.integration_id)

    assert code(unknown) == (404, "integration_not_found")
    assert code(others) == (404, "integration_not_found")
    assert code(not_crm) == (422, "not_a_crm")
    assert code(disconnected) == (409, "integration_not_connected")
    assert "hubspot" in disconnected.value.message


def test_settings_default_per_integration_and_change_partially(w: CrmWorld) -> None:
    hub = w.crm("hubspot")
    later(w)
    fub = w.crm("followupboss")

    before = w.settings.get(USER)
    assert [(i.integration_id, s.cache_ttl_seconds) for i, s in before.integrations] == [
        (hub.integration_id, 300),
        (fub.integration_id, 300),
    ]
    assert not w.settings.write_back_enabled(USER, hub.integration_id, "post_published")

    w.settings.put(
        USER,
        SettingsChange(
            integrations={
                hub.integration_id: IntegrationChange(
                    cache_ttl_seconds=0, write_back={"post_published": True}
                )
            }
        ),
    )
    after = w.settings.put(
        USER,
        SettingsChange(integrations={hub.integration_id: IntegrationChange(write_back={"email_sent": True})}),
    )

    hub_settings = dict((i.integration_id, s) for i, s in after.integrations)[hub.integration_id]
    assert hub_settings.cache_ttl_seconds == 0
    assert w.settings.write_back_enabled(USER, hub.integration_id, "post_published")
    assert w.settings.write_back_enabled(USER, hub.integration_id, "email_sent")
    assert not w.settings.write_back_enabled(USER, hub.integration_id, "email_opened")
    assert not w.settings.write_back_enabled(USER, fub.integration_id, "post_published")
    assert after.settings.updated_at == w.base.clock.now()
    with pytest.raises(ValueError, match="unknown write-back event"):
        w.settings.write_back_enabled(USER, hub.integration_id, "postPublished")

    reset = w.settings.put(USER, SettingsChange(integrations={hub.integration_id: None}))

    assert (
        dict((i.integration_id, s) for i, s in reset.integrations)[hub.integration_id].cache_ttl_seconds
        == 300
    )
    assert not w.settings.write_back_enabled(USER, hub.integration_id, "post_published")


@pytest.mark.parametrize(
    ("change", "status", "error_code"),
    [
        (IntegrationChange(cache_ttl_seconds=-1), 422, "invalid_crm_settings"),
        (IntegrationChange(cache_ttl_seconds=86_401), 422, "invalid_crm_settings"),
        (IntegrationChange(write_back={"postOpened": True}), 422, "invalid_crm_settings"),
    ],
)
def test_a_bad_value_changes_nothing(
    w: CrmWorld, change: IntegrationChange, status: int, error_code: str
) -> None:
    hub = w.crm("hubspot")
    fub = w.crm("followupboss")

    with pytest.raises(TidingsError) as refused:
        w.settings.put(
            USER,
            SettingsChange(
                default_integration_id=fub.integration_id,
                integrations={hub.integration_id: change},
            ),
        )

    assert code(refused) == (status, error_code)
    assert w.settings.settings(USER).version == 0  # nothing was stored


def test_settings_name_only_the_users_crm_integrations(w: CrmWorld) -> None:
    hub = w.crm("hubspot")
    ga4 = w.analytics()

    with pytest.raises(ValidationFailed) as not_crm:
        w.settings.put(USER, SettingsChange(default_integration_id=ga4.integration_id))
    with pytest.raises(NotFound) as unknown:
        w.settings.put(
            USER, SettingsChange(integrations={"int-nope": IntegrationChange(cache_ttl_seconds=5)})
        )
    with pytest.raises(NotFound):
        w.settings.put("someone-else", SettingsChange(default_integration_id=hub.integration_id))

    assert code(not_crm) == (422, "not_a_crm")
    assert code(unknown) == (404, "integration_not_found")


class RacedRepository(InMemoryCrmSettingsRepository):
    """Another request stores its change between the first read and the write that follows it."""

    def __init__(self, change: CrmSettings, at: datetime) -> None:
        super().__init__()
        self.change, self.at, self.raced = change, at, False

    def get(self, user_id: str) -> CrmSettings:
        found = super().get(user_id)
        if not self.raced:
            self.raced = True
            super().save(user_id, self.change, self.at)
        return found


def test_a_change_made_meanwhile_is_kept(w: CrmWorld) -> None:
    hub = w.crm("hubspot")
    fub = w.crm("followupboss")
    now = w.base.clock.now()
    service = CrmSettingsService(
        RacedRepository(CrmSettings(default_integration_id=fub.integration_id), now),
        w.base.lifecycle.directory,
        w.base.clock,
    )

    view = service.put(
        USER, SettingsChange(integrations={hub.integration_id: IntegrationChange(cache_ttl_seconds=30)})
    )

    assert view.settings.default_integration_id == fub.integration_id
    assert view.settings.for_integration(hub.integration_id).cache_ttl_seconds == 30
    assert view.settings.version == 2
