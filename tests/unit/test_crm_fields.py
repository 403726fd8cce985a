"""A client's CRM record as template values and as GET /crm/clients/{clientId} shows it."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tidings.crm.fields import CustomField, alias, client_view, custom_fields, template_values
from tidings.models.crm import ClientPreferences, CrmRecord, HistoryEntry

FETCHED = datetime(2026, 3, 2, 12, 0, 0, 250000, tzinfo=UTC)


def record(**changes: object) -> CrmRecord:
    base: dict[str, object] = {
        "id": "501",
        "provider": "salesforce",
        "first_name": "Maya",
        "last_name": "Okafor",
        "email": "maya@harbour.example",
        "phone": "+1 555 0100",
    }
    base.update(changes)
    return CrmRecord(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("annual_budget__c", "annualBudget"),  # Salesforce custom field
        ("Annual_Budget__c", "annualBudget"),
        ("acme__Budget__c", "acmeBudget"),  # a managed package's namespace stays a word
        ("hs_lead_status", "hsLeadStatus"),  # HubSpot's prefix stays
        ("Budget", "budget"),
        ("customBudget", "budget"),  # Follow Up Boss custom field
        ("customAnnualIncome", "annualIncome"),
        ("customer_type", "customerType"),  # "customer" is no prefix
        ("custom", "custom"),
        ("LeadSource", "leadSource"),
        ("HTMLBody", "htmlBody"),
        ("ID", "id"),
        ("Home_Value_2__c", "homeValue2"),
        ("move-in date", "moveInDate"),
        ("2nd_home", "field2ndHome"),  # a variable cannot start with a digit
        ("Année", "année"),
        ("  budget  ", "budget"),
        ("___", ""),
        ("", ""),
    ],
)
def test_alias_is_camel_case_without_vendor_markers(name: str, expected: str) -> None:
    assert alias(name) == expected


def test_every_property_is_a_custom_field_by_name_and_alias_sorted_by_name() -> None:
    client = record(properties={"hs_lead_status": "OPEN", "annual_budget__c": 450000, "Beds": 3})

    assert custom_fields(client) == [
        CustomField(name="Beds", alias="beds", value=3),
        CustomField(name="annual_budget__c", alias="annualBudget", value=450000),
        CustomField(name="hs_lead_status", alias="hsLeadStatus", value="OPEN"),
    ]


def test_on_a_clash_the_property_named_like_the_alias_keeps_it() -> None:
    client = record(properties={"customBudget": 1, "Budget__c": 2, "budget": 3})

    fields = {f.name: f.alias for f in custom_fields(client)}

    assert fields == {"Budget__c": "", "budget": "budget", "customBudget": ""}
    assert template_values(client)["budget"] == 3


def test_on_a_clash_without_an_exact_name_the_first_name_by_code_point_keeps_it() -> None:
    # Given the same properties in two different orders
    one = record(properties={"customBudget": 1, "Budget__c": 2})
    other = record(properties={"Budget__c": 2, "customBudget": 1})

    # Then the same one keeps the alias: "B" sorts before "c"
    assert custom_fields(one) == custom_fields(other)
    assert {f.name: f.alias for f in custom_fields(one)} == {"Budget__c": "budget", "customBudget": ""}
    assert template_values(one)["budget"] == 2


def test_names_a_template_cannot_use_get_no_alias() -> None:
    client = record(
        properties={"FirstName": "Other", "Email": "x@y", "If": 1, "None": 2, "range": "200-300k", "###": 4}
    )

    assert {f.name: f.alias for f in custom_fields(client)} == {
        "###": "",
        "Email": "",
        "FirstName": "",
        "If": "",
        "None": "",
        "range": "",
    }
    values = template_values(client)
    assert values["firstName"] == "Maya"  # the standard field wins
    assert values["email"] == "maya@harbour.example"
    assert {"if", "none", "range", ""}.isdisjoint(values)


def test_template_values_are_the_standard_fields_and_aliases_with_raw_values() -> None:
    client = record(properties={"annual_budget__c": 450000, "Pre_Approved__c": True, "notes": None})

    assert template_values(client) == {
        "firstName": "Maya",
        "lastName": "Okafor",
        "fullName": "Maya Okafor",
        "email": "maya@harbour.example",
        "phone": "+1 555 0100",
        "annualBudget": 450000,
        "preApproved": True,
        "notes": None,
    }


def test_template_values_of_a_client_with_no_name() -> None:
    values = template_values(record(first_name=None, last_name="  ", email=None))

    assert values["fullName"] is None
    assert values["firstName"] is None
    assert values["email"] is None


def test_client_view_is_the_api_shape() -> None:
    # Given a client with preferences, tags, properties (one clashing) and history
    client = record(
        preferences=ClientPreferences(
            communication_style="formal", language="es-MX", contact_method="sms", timezone="America/Chicago"
        ),
        tags=("buyer", "vip"),
        properties={"Budget__c": 450000, "budget": 500000, "Areas__c": ["Downtown", "Harbour"]},
        history=(
            HistoryEntry("note", "Called about the open house", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
            HistoryEntry("email", "Sent listings", None),
        ),
    )

    # When it is shown
    view = client_view(client, integration_id="int-7", fetched_at=FETCHED)

    # Then every part is there, JSON-ready, times in UTC with milliseconds
    assert view == {
        "id": "501",
        "firstName": "Maya",
        "lastName": "Okafor",
        "fullName": "Maya Okafor",
        "email": "maya@harbour.example",
        "phone": "+1 555 0100",
        "preferences": {
            "communicationStyle": "formal",
            "language": "es-MX",
            "contactMethod": "sms",
            "timezone": "America/Chicago",
        },
        "tags": ["buyer", "vip"],
        "customFields": [
            {"name": "Areas__c", "alias": "areas", "value": ["Downtown", "Harbour"]},
            {"name": "Budget__c", "alias": None, "value": 450000},
            {"name": "budget", "alias": "budget", "value": 500000},
        ],
        "history": [
            {"type": "note", "description": "Called about the open house", "at": "2026-03-01T09:30:00.000Z"},
            {"type": "email", "description": "Sent listings", "at": None},
        ],
        "source": {
            "provider": "salesforce",
            "integrationId": "int-7",
            "fetchedAt": "2026-03-02T12:00:00.250Z",
        },
    }
    assert json.loads(json.dumps(view)) == view


def test_client_view_times_are_converted_to_utc() -> None:
    chicago = timezone(timedelta(hours=-6))
    view = client_view(record(), integration_id="i", fetched_at=datetime(2026, 3, 2, 6, 0, tzinfo=chicago))

    assert view["source"]["fetchedAt"] == "2026-03-02T12:00:00.000Z"
    assert view["preferences"] == {
        "communicationStyle": None,
        "language": None,
        "contactMethod": None,
        "timezone": None,
    }
    assert view["customFields"] == []
    assert view["history"] == []
