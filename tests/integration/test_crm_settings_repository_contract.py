"""The in-memory CRM settings repository keeps the DynamoDB one's contract: defaults for a user who never
changed anything, the whole settings written at once on the version that was read (a stale write is
refused), each user's settings their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.store.crm_settings import (
    CrmIntegrationSettings,
    CrmSettings,
    CrmSettingsRepository,
    DynamoCrmSettingsRepository,
    WriteBack,
)
from tidings.store.memory.crm_settings import InMemoryCrmSettingsRepository

NOW = datetime(2026, 8, 3, 9, 0, 0, 125_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def settings(table: Table | None) -> CrmSettingsRepository:
    if table is None:
        return InMemoryCrmSettingsRepository()
    return DynamoCrmSettingsRepository(table.name, table.client)


def test_a_user_who_never_changed_anything_reads_the_defaults(settings: CrmSettingsRepository) -> None:
    found = settings.get(user_id())

    assert found == CrmSettings()
    assert found.for_integration("int_1") == CrmIntegrationSettings(300, WriteBack(False, False, False))


def test_settings_are_written_whole_and_read_back(settings: CrmSettingsRepository) -> None:
    user = user_id()
    wanted = CrmSettings(
        default_integration_id="int_b",
        integrations={
            "int_a": CrmIntegrationSettings(0, WriteBack(post_published=True)),
            "int_b": CrmIntegrationSettings(86_400, WriteBack(email_sent=True, email_opened=True)),
        },
    )

    saved = settings.save(user, wanted, NOW)

    assert saved == CrmSettings(wanted.default_integration_id, wanted.integrations, NOW, 1)
    assert settings.get(user) == saved
    assert settings.get(user_id()) == CrmSettings()  # another user's are their own

    cleared = settings.save(user, CrmSettings(version=1), NOW + timedelta(seconds=1))
    assert cleared == CrmSettings(None, {}, NOW + timedelta(seconds=1), 2)
    assert settings.get(user) == cleared


def test_a_write_on_a_stale_version_is_refused(settings: CrmSettingsRepository) -> None:
    user = user_id()
    first = settings.save(user, CrmSettings(default_integration_id="int_a"), NOW)

    again_new = outcome(lambda: settings.save(user, CrmSettings(default_integration_id="int_b"), NOW))
    stale = outcome(lambda: settings.save(user, CrmSettings(default_integration_id="int_c", version=7), NOW))

    assert (again_new, stale) == ("Conflict", "Conflict")
    assert settings.get(user) == first
    second = settings.save(user, CrmSettings(default_integration_id="int_d", version=first.version), NOW)
    assert (second.default_integration_id, second.version) == ("int_d", 2)
