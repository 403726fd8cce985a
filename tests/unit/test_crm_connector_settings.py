"""Connecting a Salesforce or a custom CRM (the use-case behind `POST /integrations`, on the in-memory
repositories and vault, with the real connectors and no network): what is accepted, what each
wrong setting is refused with (a 422 and its own code, nothing stored), and the pure parts of the
two connectors: the Salesforce record and Task mapping and its SOQL literals, the custom CRM's URL
templates and field mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from integration_fakes import USER, World, world

from tidings.core.config import Settings
from tidings.core.errors import ValidationFailed
from tidings.integrations.connectors.base import ConnectorCredentials
from tidings.integrations.connectors.crm import ActivityWrite
from tidings.integrations.connectors.custom import CustomCrmConnector, map_client, parse_mapping, render
from tidings.integrations.connectors.salesforce import (
    FieldNames,
    SalesforceConnector,
    client_record,
    identity_ids,
    limit_info,
    soql_string,
    task_fields,
    upsert_result,
)
from tidings.models.integrations import Integration

PUBLIC = "93.184.216.34"  # a public address, as a resolver answer
REFRESH = "5Aep861unit.refresh.token.canary"


def resolve(host: str) -> list[str]:
    return {"internal.crm.example": ["10.0.0.7"], "metadata.crm.example": ["169.254.169.254"]}.get(
        host, [PUBLIC]
    )


def crm_world(*, client_id: str = "3MVG9-app-client") -> World:
    settings = Settings.from_env({"TIDINGS_SALESFORCE_CLIENT_ID": client_id})
    http = httpx.Client()  # never used: nothing here calls a vendor
    return world(
        SalesforceConnector(settings, http), CustomCrmConnector(http, allow_private=False, resolve=resolve)
    )


def connect(w: World, provider: str, credentials: dict[str, Any]) -> Integration:
    integration: Integration = w.lifecycle.create(
        USER,
        name=f"{provider} CRM",
        kind="crm",
        provider=provider,
        credentials=credentials,
        sync_frequency=None,
        alert_email=None,
    )
    return integration


def refused(w: World, provider: str, credentials: dict[str, Any]) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        connect(w, provider, credentials)
    assert caught.value.status == 422
    assert w.lifecycle.for_user(USER) == []  # nothing was stored
    return caught.value


CUSTOM = {
    "clientUrl": "https://crm.example.com/api/clients/{clientId}",
    "activitiesUrl": "https://crm.example.com/api/activities",
    "authType": "bearer",
    "token": "crm-unit-bearer-token-0001",
}


# -- Salesforce ------------------------------------------------------------------------------------


def test_a_salesforce_integration_keeps_its_settings_and_seals_its_tokens() -> None:
    w = crm_world()

    integration = connect(
        w,
        "salesforce",
        {
            "refreshToken": REFRESH,
            "clientSecret": "unit-consumer-secret-77",
            "loginBase": "https://test.salesforce.com",
            "activityIdField": "Tidings_Key__c",
            "communicationStyleField": "Tone__c",
        },
    )

    assert integration.settings == {
        "loginBase": "https://test.salesforce.com",
        "activityIdField": "Tidings_Key__c",
        "communicationStyleField": "Tone__c",
    }
    assert integration.secret_hint is not None
    assert REFRESH not in repr(integration)


@pytest.mark.parametrize(
    "login",
    [
        "https://login.salesforce.com",
        "https://test.salesforce.com/",
        "https://harbour-realty.my.salesforce.com",
        "https://harbour--uat.sandbox.my.salesforce.com",
    ],
)
def test_salesforce_login_hosts_are_accepted(login: str) -> None:
    connect(crm_world(), "salesforce", {"refreshToken": REFRESH, "loginBase": login})


@pytest.mark.parametrize(
    "login",
    [
        "http://login.salesforce.com",
        "https://login.salesforce.com.evil.example",
        "https://169.254.169.254",
        "https://my.salesforce.com",
        "https://login.salesforce.com/services/oauth2/token",
        "https://login.salesforce.com:8443",
        "https://user@login.salesforce.com",
    ],
)
def test_another_login_host_is_refused(login: str) -> None:
    error = refused(crm_world(), "salesforce", {"refreshToken": REFRESH, "loginBase": login})

    assert error.code == "invalid_login_base"
    assert error.details == {"field": "credentials.loginBase"}


@pytest.mark.parametrize("setting", ["activityIdField", "tagsField", "languageField", "timezoneField"])
@pytest.mark.parametrize("value", ["Bad Field", "Name) FROM User --", "1Starts_With_Digit__c", "x" * 81])
def test_a_field_setting_must_be_an_api_name(setting: str, value: str) -> None:
    error = refused(crm_world(), "salesforce", {"refreshToken": REFRESH, setting: value})

    assert error.code == "invalid_field_name"
    assert error.details == {"field": f"credentials.{setting}"}


def test_without_a_client_id_anywhere_salesforce_is_refused() -> None:
    w = crm_world(client_id="")

    error = refused(w, "salesforce", {"refreshToken": REFRESH})
    connect(w, "salesforce", {"refreshToken": REFRESH, "clientId": "3MVG9-own-client-id"})

    assert error.code == "client_id_required"


def test_salesforce_needs_its_refresh_token_and_takes_no_unknown_setting() -> None:
    missing = refused(crm_world(), "salesforce", {"loginBase": "https://login.salesforce.com"})
    unknown = refused(
        crm_world(), "salesforce", {"refreshToken": REFRESH, "instanceUrl": "https://x.example"}
    )

    assert (missing.code, missing.details["missing"]) == ("invalid_credentials", ["refreshToken"])
    assert (unknown.code, unknown.details["unknown"]) == ("invalid_credentials", ["instanceUrl"])


# -- the custom CRM --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "secrets"),
    [
        ({"authType": "bearer"}, {"token": "crm-unit-bearer-token-0001"}),
        ({"authType": "header", "authHeader": "X-Crm-Key"}, {"apiKey": "crm-unit-api-key-0002"}),
        ({"authType": "header"}, {"apiKey": "crm-unit-api-key-0002"}),
        ({"authType": "basic"}, {"username": "sync-user", "password": "crm-unit-password-3"}),
    ],
)
def test_a_custom_crm_is_accepted_with_each_kind_of_auth(
    extra: dict[str, str], secrets: dict[str, str]
) -> None:
    settings = {k: v for k, v in CUSTOM.items() if k != "token"}
    integration = connect(
        crm_world(),
        "custom",
        {
            **settings,
            **extra,
            **secrets,
            "activityLookupUrl": "https://crm.example.com/api/activities/{activityId}",
            "fieldMapping": json.dumps({"firstName": "name.first", "properties.budget": "money.max"}),
        },
    )

    assert integration.settings["authType"] == extra["authType"]
    assert set(integration.settings).isdisjoint(secrets)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"clientUrl": "https://crm.example.com/api/clients"}, "invalid_url_template", "clientUrl"),
        ({"clientUrl": "https://{clientId}.crm.example.com/c"}, "invalid_url_template", "clientUrl"),
        ({"clientUrl": "https://crm.example.com{clientId}"}, "invalid_url_template", "clientUrl"),
        ({"clientUrl": "https://crm.example.com/c/{id}"}, "invalid_url_template", "clientUrl"),
        ({"clientUrl": "https://crm.example.com/c/{clientId}/{other}"}, "invalid_url_template", "clientUrl"),
        ({"clientUrl": "https://crm.example.com/c/{clientId}}"}, "invalid_url_template", "clientUrl"),
        ({"clientUrl": "https://crm.example.com/c/{clientId}#top"}, "invalid_url_template", "clientUrl"),
        ({"clientUrl": "https://me:pw@crm.example.com/c/{clientId}"}, "invalid_url_template", "clientUrl"),
        ({"clientUrl": "ftp://crm.example.com/c/{clientId}"}, "invalid_url_template", "clientUrl"),
        ({"activitiesUrl": "https://crm.example.com/a/{clientId}"}, "invalid_url_template", "activitiesUrl"),
        ({"activityLookupUrl": "https://crm.example.com/a/"}, "invalid_url_template", "activityLookupUrl"),
        ({"clientUrl": "http://crm.example.com/c/{clientId}"}, "url_refused", "clientUrl"),
        ({"clientUrl": "https://internal.crm.example/c/{clientId}"}, "url_refused", "clientUrl"),
        ({"activitiesUrl": "https://metadata.crm.example/a"}, "url_refused", "activitiesUrl"),
        ({"activitiesUrl": "https://10.1.2.3/a"}, "url_refused", "activitiesUrl"),
        ({"fieldMapping": "not json"}, "invalid_field_mapping", "fieldMapping"),
        ({"fieldMapping": "[1, 2]"}, "invalid_field_mapping", "fieldMapping"),
        ({"fieldMapping": '{"salary": "pay"}'}, "invalid_field_mapping", "fieldMapping"),
        ({"fieldMapping": '{"email": ""}'}, "invalid_field_mapping", "fieldMapping"),
        ({"fieldMapping": '{"email": "contact..email"}'}, "invalid_field_mapping", "fieldMapping"),
        ({"fieldMapping": '{"email": 7}'}, "invalid_field_mapping", "fieldMapping"),
        ({"fieldMapping": '{"properties.": "x"}'}, "invalid_field_mapping", "fieldMapping"),
        ({"authType": "oauth"}, "invalid_auth", "authType"),
        ({"authType": "basic"}, "invalid_auth", "username"),
        ({"authType": "header"}, "invalid_auth", "apiKey"),
        ({"apiKey": "crm-unit-api-key-0002"}, "invalid_auth", "apiKey"),
        ({"authHeader": "X-Key"}, "invalid_auth", "authHeader"),
    ],
)
def test_a_custom_crm_setting_that_cannot_work_is_refused_with_its_own_code(
    change: dict[str, str], code: str, field: str
) -> None:
    error = refused(crm_world(), "custom", {**CUSTOM, **change})

    assert error.code == code
    assert error.details == {"field": f"credentials.{field}"}


@pytest.mark.parametrize("header", ["Content-Type", "Idempotency-Key", "Host", "Bad Header", "X:Key"])
def test_a_header_that_cannot_carry_the_key_is_refused(header: str) -> None:
    credentials = {**CUSTOM, "authType": "header", "authHeader": header, "apiKey": "crm-unit-api-key-0002"}
    del credentials["token"]

    assert refused(crm_world(), "custom", credentials).code == "invalid_auth"


def test_a_custom_crm_needs_its_urls_and_auth_type() -> None:
    error = refused(crm_world(), "custom", {"token": "crm-unit-bearer-token-0001"})

    assert error.code == "invalid_credentials"
    assert error.details["missing"] == ["activitiesUrl", "authType", "clientUrl"]


# -- the pure parts --------------------------------------------------------------------------------


def test_render_keeps_a_client_id_in_its_place() -> None:
    template = "https://crm.example.com/api/clients/{clientId}?expand=all"

    assert render(template, "{clientId}", "../admin?x=1#y") == (
        "https://crm.example.com/api/clients/..%2Fadmin%3Fx%3D1%23y?expand=all"
    )


def test_map_client_reads_paths_and_keeps_the_rest_as_properties() -> None:
    mapping = parse_mapping(
        json.dumps(
            {"email": "emails.0.value", "tags": "labels", "history": "log", "properties.score": "meta.score"}
        )
    )
    body = {
        "id": 7,
        "firstName": "Ada",
        "emails": [{"value": "ada@x.example"}],
        "labels": "vip, buyer",
        "log": [{"kind": "call", "note": "Called", "at": "2026-11-02T09:00:00Z"}, "plain text", 5],
        "meta": {"score": 0.9},
        "region": "North",
        "empty": None,
    }

    record = map_client(body, "7", mapping)

    assert (record.first_name, record.email, record.tags) == ("Ada", "ada@x.example", ("vip", "buyer"))
    assert [(h.type, h.description, h.at) for h in record.history] == [
        ("call", "Called", datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
        ("activity", "plain text", None),
        ("activity", "5", None),
    ]
    assert record.properties == {"region": "North", "score": 0.9}


def test_soql_strings_escape_what_would_end_them() -> None:
    assert soql_string("O'Brien \\ co") == "'O\\'Brien \\\\ co'"
    assert soql_string("a\nb") == "'a\\nb'"


def test_the_limit_header_and_identity_url_are_read() -> None:
    assert limit_info("api-usage=18/15000; per-app-api-usage=2/250(appName=x)") == {
        "apiRequestsUsed": 18,
        "apiRequestsLimit": 15000,
    }
    assert limit_info(None) == {}
    assert identity_ids("https://login.salesforce.com/id/00D5e000000TIDAEA2/0055e0000000USRAAA") == (
        "00D5e000000TIDAEA2",
        "0055e0000000USRAAA",
    )
    assert identity_ids("https://login.salesforce.com/other") == (None, None)


def test_a_task_subject_is_the_type_and_description_within_255_characters() -> None:
    long = ActivityWrite(
        "act_1", "0035e000000AbCdEAA", "email_sent", "word " * 100, datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    )
    call = ActivityWrite("act_2", "0035e000000AbCdEAA", "call", "", datetime(2026, 11, 2, tzinfo=UTC))

    task, call_task = task_fields(long, "Ext__c"), task_fields(call, "Ext__c")

    assert len(task["Subject"]) == 255
    assert task["Subject"].startswith("Email sent: word word")
    assert task["Subject"].endswith("…")
    assert (task["TaskSubtype"], task["ActivityDate"], task["Ext__c"]) == ("Email", "2026-11-02", "act_1")
    assert (call_task["Subject"], call_task["TaskSubtype"], call_task["Description"]) == ("Call", "Call", "")


def test_a_refusal_only_of_the_create_only_subtype_means_the_task_exists() -> None:
    write = ActivityWrite("act_1", "0035e000000AbCdEAA", "note", "n", datetime(2026, 11, 2, tzinfo=UTC))
    subtype = {"statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE", "message": "...", "fields": ["TaskSubtype"]}
    other = {"statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE", "message": "...", "fields": ["OwnerId"]}

    assert upsert_result(write, {"success": False, "errors": [subtype]}) is None
    refusal = upsert_result(write, {"success": False, "errors": [other]})
    assert refusal is not None
    assert refusal.error is not None
    assert refusal.error.code == "invalid_request"


def test_a_salesforce_record_maps_its_fields_and_leaves_bookkeeping_out() -> None:
    body = {
        "attributes": {"type": "Contact", "url": "/services/data/v67.0/sobjects/Contact/003"},
        "Id": "0035e000000AbCdEAA",
        "FirstName": "Ada",
        "LastName": None,
        "MobilePhone": "+1555",
        "Phone": None,
        "Language__c": "de",
        "Tags__c": " ; vip ;",
        "SystemModstamp": "2026-11-02T09:00:00.000+0000",
        "Budget__c": 12.5,
    }

    record = client_record(body, FieldNames())

    assert (record.first_name, record.last_name, record.phone) == ("Ada", None, "+1555")
    assert record.preferences.language == "de"  # the second default language field
    assert record.tags == ("vip",)
    assert record.properties == {"Budget__c": 12.5}


def test_custom_settings_are_checked_by_the_connector_alone() -> None:
    connector = CustomCrmConnector(httpx.Client(), allow_private=False, resolve=resolve)

    with pytest.raises(ValidationFailed) as caught:
        connector.validate_credentials(
            ConnectorCredentials({**CUSTOM, "authType": "basic"}, {"token": "t0000000"})
        )

    assert caught.value.code == "invalid_auth"
