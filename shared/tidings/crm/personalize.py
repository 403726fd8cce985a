"""Content personalised for a client: a template rendered with the client's CRM values and the
caller's own.

Templates are Jinja2 text rendered in its sandbox (`tidings.crm.sandbox` says what a template can
and cannot do): `{{ firstName }}`, `{{ budget }}`, `{% if vip %}...{% endif %}`, filters such as
`{{ moveIn|date }}`.

Variables, and who wins:
- the client's: `firstName`, `lastName`, `fullName`, `email`, `phone` and every custom field by its
  alias (`tidings.crm.fields`);
- the caller's `variables` (`agentName`, `agentPhone`, anything). They are explicit, so they win
  over a client's field of the same name, unless they are empty (None or ""): an empty value given
  by the caller leaves the client's.
A value counts as missing when it is absent, None or "". A missing variable is never shown blank:
every variable the template uses (found in its syntax tree, even in a branch not taken) must have
a value, else the answer is 422 `missing_variables` with `details.missing` listing them; with
`fallbacks` ({name: value}) the fallback is used instead and the name is reported in `missing`. A
variable used only as `x|default(...)` or in `x is defined` may be missing: the template said what
to do without it.

Formats: `tidings.crm.formats` (money by the variable's name, numbers, yes/no, dates, lists).

Communication style: the client's `communicationStyle` (`formal` or `casual`) is applied to the
template's own text before the values go in (`tidings.crm.style`), so names and other CRM values
are never changed; text inside `{{ }}` and `{% %}` (string literals, values) is not restyled. The
client's `language` is reported as the CRM holds it; nothing is translated.

`content_type` says what the text is for: one of `CONTENT_TYPES` or None. It is checked and
reported, and changes nothing in the rendering: all content is plain text (no HTML escaping), and
length rules belong to where the text is sent (the platforms' rules for posts, email sending).

Values reach the template as plain data only (text, numbers, booleans, None, lists, dicts; dates
and times as ISO 8601 text); anything else given by a caller is refused (422 `invalid_variables`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from tidings.core.errors import ValidationFailed
from tidings.crm.fields import template_values
from tidings.crm.formats import format_named
from tidings.crm.sandbox import (
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    MissingVariables,
    TemplateInvalid,
    TemplateTooLarge,
    TemplateUnsafe,
    compile_template,
    template_names,
)
from tidings.crm.style import style_of
from tidings.models.crm import CrmRecord

__all__ = [
    "CONTENT_TYPES",
    "MAX_OUTPUT_CHARS",
    "MAX_TEMPLATE_CHARS",
    "MissingVariables",
    "Personalized",
    "TemplateInvalid",
    "TemplateTooLarge",
    "TemplateUnsafe",
    "personalize",
    "template_variables",
]

CONTENT_TYPES = ("email", "post", "sms")
_MAX_DEPTH = 8


@dataclass(frozen=True)
class Personalized:
    content: str
    variables: dict[str, Any]  # each variable the template used, as it was shown, by name
    missing: list[str]  # the variables filled from fallbacks
    style: str | None  # the communication style applied ("formal" | "casual"), None when none
    language: str | None  # the client's language as the CRM holds it; nothing is translated
    content_type: str | None = None  # as the caller gave it (checked)


def _invalid(name: str, reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"variable {name!r}: {reason}", {"variable": name, "reason": reason}, code="invalid_variables"
    )


def _plain(value: Any, name: str, depth: int = 0) -> Any:
    """`value` as plain data (see the module docstring); ValidationFailed for anything else."""
    if depth > _MAX_DEPTH:
        raise _invalid(name, f"nested more than {_MAX_DEPTH} levels deep")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a str subclass (an enum, a marked text) as plain text
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _plain(item, name, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, name, depth + 1) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item, name, depth + 1) for item in value), key=str)
    raise _invalid(name, f"a {type(value).__name__} is not a value a template can use")


def _missing(value: Any) -> bool:
    return value is None or value == ""


def _content_type(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in CONTENT_TYPES:
        raise ValidationFailed(
            f"unknown contentType: {value!r}",
            {"field": "contentType", "supported": list(CONTENT_TYPES)},
            code="invalid_content_type",
        )
    return value


def personalize(
    template: str,
    record: CrmRecord | None,
    *,
    variables: Mapping[str, Any] | None = None,
    fallbacks: Mapping[str, str] | None = None,
    content_type: str | None = None,
) -> Personalized:
    """`template` rendered for the client `record` (None: the caller's variables only).

    Raises TemplateTooLarge (413), TemplateInvalid (422), TemplateUnsafe (400), MissingVariables
    (422 `missing_variables`, `details.missing`), ValidationFailed (422 `invalid_variables`,
    `invalid_content_type`)."""
    kind = _content_type(content_type)
    prefs = record.preferences if record is not None else None
    style = style_of(prefs.communication_style) if prefs is not None else None
    compiled = compile_template(template, style)

    given: dict[str, Any] = template_values(record) if record is not None else {}
    for name, value in (variables or {}).items():
        if not _missing(value):
            given[name] = value
    plain = {name: _plain(given[name], name) for name in compiled.names if name in given}
    values = {name: value for name, value in plain.items() if not _missing(value)}

    filled: list[str] = []
    unresolved: list[str] = []
    for name in sorted(compiled.names - values.keys()):
        fallback = (fallbacks or {}).get(name)
        if fallback is not None:
            values[name] = _plain(fallback, name)
            filled.append(name)
        elif name in compiled.required:
            unresolved.append(name)
    if unresolved:
        raise MissingVariables(
            f"the template uses variables with no value: {', '.join(unresolved)}"
            " (give them in variables or fallbacks)",
            {"missing": unresolved},
        )

    return Personalized(
        content=compiled.render(values),
        variables={name: format_named(name, values[name]) for name in sorted(values)},
        missing=filled,
        style=style,
        language=prefs.language if prefs is not None else None,
        content_type=kind,
    )


def template_variables(template: str) -> set[str]:
    """The variables `template` uses (client fields and the caller's values alike), without
    rendering it: say whether a client is needed. Raises as `personalize` does for a template that
    is too large, invalid or unsafe."""
    return set(template_names(template))
