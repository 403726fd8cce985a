"""A client's CRM record as template values and as `GET /crm/clients/{clientId}` shows it.

Standard fields are `firstName`, `lastName`, `fullName`, `email` and `phone`. Every other property
the CRM answered is a custom field, shown by its CRM name and by an alias a template can write
(`{{ annualBudget }}`), made by one rule whatever the vendor:

1. A Salesforce custom field loses its `__c` suffix (`Annual_Budget__c` -> `annualBudget`); a
   managed package's namespace stays a word of the alias (`acme__Budget__c` -> `acmeBudget`).
2. A Follow Up Boss custom field loses its `custom` prefix when a capital follows it
   (`customBudget` -> `budget`, `customAnnualIncome` -> `annualIncome`); `customer...` is no prefix.
   Other vendors' prefixes stay (HubSpot's `hs_lead_status` -> `hsLeadStatus`).
3. The rest is split into words at underscores, hyphens, spaces and other punctuation, and at
   camelCase humps (`HTMLBody` -> `HTML`, `Body`); the words are joined as camelCase, first word in
   lower case (`annual_budget` -> `annualBudget`, `Budget` -> `budget`, `LeadSource` ->
   `leadSource`). Letters outside ASCII stay as they are (`Année` -> `année`).
4. An alias that would start with a digit gets `field` in front (`2nd_home` -> `field2ndHome`); a
   name with no letter or digit has no alias.

Aliases are unique per client. When two properties make the same alias, the one whose CRM name is
the alias itself keeps it (a property `budget` wins over `Budget__c`), else the one whose name sorts
first (by code point); the others are shown by their CRM name only (`alias` null in the API,
`""` in `CustomField`) and are not template values. Names a template cannot use as a plain variable
are never aliases either: the standard fields' names, the words of the template language (`if`,
`none`, `true`, `loop`, `self`, ...) and its functions (`range`, `cycler`, `joiner`, `namespace`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.crm import CrmRecord

STANDARD_FIELDS = ("firstName", "lastName", "fullName", "email", "phone")
# What a template cannot write as a plain variable: expression words and constants of the template
# language, names it gives a meaning to, and its functions.
_TEMPLATE_WORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "else",
        "true",
        "false",
        "none",
        "loop",
        "self",
        "caller",
        "varargs",
        "kwargs",
        "range",
        "cycler",
        "joiner",
        "namespace",
    }
)
RESERVED_ALIASES = frozenset(STANDARD_FIELDS) | _TEMPLATE_WORDS

_SALESFORCE_CUSTOM = re.compile(r"__c$")
_FUB_CUSTOM = re.compile(r"^custom(?=[A-Z])")
_RUNS = re.compile(r"[^\W_]+")  # letters and digits, split at anything else (underscores too)


@dataclass(frozen=True)
class CustomField:
    """A property other than the standard fields: its CRM name, its alias ("" when it has none:
    another property holds that alias, or the name cannot be one) and its value as the CRM gave it."""

    name: str
    alias: str
    value: Any


def _humps(run: str) -> list[str]:
    """`run` split at camelCase humps: `annualBudget` -> annual, Budget; `HTMLBody` -> HTML, Body;
    digits stay with the letters before them (`home2Value` -> home2, Value)."""
    words: list[str] = []
    start = 0
    for i in range(1, len(run)):
        prev, cur = run[i - 1], run[i]
        following = run[i + 1] if i + 1 < len(run) else ""
        lower_to_upper = (prev.islower() or prev.isdigit()) and cur.isupper()
        acronym_end = prev.isupper() and cur.isupper() and following.islower()
        if lower_to_upper or acronym_end:
            words.append(run[start:i])
            start = i
    words.append(run[start:])
    return words


@lru_cache(maxsize=4096)
def alias(name: str) -> str:
    """The camelCase alias of a CRM property name (the module docstring says how); "" when the name
    has no letter or digit."""
    stem = _FUB_CUSTOM.sub("", _SALESFORCE_CUSTOM.sub("", name.strip()))
    words = [word.lower() for run in _RUNS.findall(stem) for word in _humps(run)]
    if not words:
        return ""
    made = words[0] + "".join(word[:1].upper() + word[1:] for word in words[1:])
    return f"field{made[:1].upper()}{made[1:]}" if made[0].isdigit() else made


def _claims(names: Iterable[str]) -> dict[str, str]:
    """CRM name -> alias for the names that keep their alias (see the module docstring)."""
    by_alias: dict[str, list[str]] = {}
    for name in names:
        made = alias(name)
        if made and made not in RESERVED_ALIASES:
            by_alias.setdefault(made, []).append(name)
    return {(made if made in candidates else min(candidates)): made for made, candidates in by_alias.items()}


def custom_fields(record: CrmRecord) -> list[CustomField]:
    """Every property of the record, sorted by CRM name, with its alias ("" when it has none)."""
    names = sorted(record.properties)
    kept = _claims(names)
    return [CustomField(name=name, alias=kept.get(name, ""), value=record.properties[name]) for name in names]


def standard_values(record: CrmRecord) -> dict[str, Any]:
    return {
        "firstName": record.first_name,
        "lastName": record.last_name,
        "fullName": record.full_name,
        "email": record.email,
        "phone": record.phone,
    }


def template_values(record: CrmRecord) -> dict[str, Any]:
    """The client's values a template can use: the standard fields and each custom field by its
    alias, as the CRM gave them (formats are chosen when a template shows them). Values may be None
    or "": the caller decides what a missing value means."""
    values = standard_values(record)
    values.update({f.alias: f.value for f in custom_fields(record) if f.alias})
    return values


def client_view(record: CrmRecord, *, integration_id: str, fetched_at: datetime) -> dict[str, Any]:
    """The client as `GET /crm/clients/{clientId}` answers it (JSON-ready; times are UTC ISO 8601)."""
    prefs = record.preferences
    return {
        "id": record.id,
        **standard_values(record),
        "preferences": {
            "communicationStyle": prefs.communication_style,
            "language": prefs.language,
            "contactMethod": prefs.contact_method,
            "timezone": prefs.timezone,
        },
        "tags": list(record.tags),
        "customFields": [
            {"name": f.name, "alias": f.alias or None, "value": f.value} for f in custom_fields(record)
        ],
        "history": [
            {"type": h.type, "description": h.description, "at": iso_ms(h.at) if h.at else None}
            for h in record.history
        ],
        "source": {
            "provider": record.provider,
            "integrationId": integration_id,
            "fetchedAt": iso_ms(fetched_at),
        },
    }
