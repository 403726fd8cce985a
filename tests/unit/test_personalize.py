"""Content personalised from a client's CRM record: variables of every kind, formats, style, missing
variables and fallbacks, and templates that try to leave the sandbox."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tidings.core.errors import TidingsError
from tidings.crm.personalize import (
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    MissingVariables,
    Personalized,
    TemplateInvalid,
    TemplateTooLarge,
    TemplateUnsafe,
    personalize,
    template_variables,
)
from tidings.crm.sandbox import compile_template
from tidings.models.crm import ClientPreferences, CrmRecord


def client(style: str | None = None, language: str | None = None, **properties: Any) -> CrmRecord:
    return CrmRecord(
        id="501",
        provider="hubspot",
        first_name="Maya",
        last_name="Okafor",
        email="maya@harbour.example",
        phone="+1 555 0100",
        preferences=ClientPreferences(communication_style=style, language=language),
        properties=properties,
    )


def refused(template: str, **kwargs: Any) -> TidingsError:
    with pytest.raises(TidingsError) as caught:
        personalize(template, client(), **kwargs)
    return caught.value


# -- variables


def test_standard_fields_custom_fields_by_alias_and_the_callers_variables() -> None:
    record = client(annual_budget__c=450000, hs_lead_status="OPEN")
    template = (
        "{{ firstName }} {{ lastName }} ({{ fullName }}, {{ email }}, {{ phone }}): "
        "${{ annualBudget }}, {{ hsLeadStatus }}. {{ agentName }}, {{ agentPhone }}"
    )

    result = personalize(template, record, variables={"agentName": "Sam Reed", "agentPhone": "+1 555 0199"})

    assert result.content == (
        "Maya Okafor (Maya Okafor, maya@harbour.example, +1 555 0100): $450,000, OPEN. Sam Reed, +1 555 0199"
    )
    assert result.variables == {
        "agentName": "Sam Reed",
        "agentPhone": "+1 555 0199",
        "annualBudget": "450,000",
        "email": "maya@harbour.example",
        "firstName": "Maya",
        "fullName": "Maya Okafor",
        "hsLeadStatus": "OPEN",
        "lastName": "Okafor",
        "phone": "+1 555 0100",
    }
    assert result.missing == []


def test_only_the_variables_the_template_uses_are_reported() -> None:
    result = personalize("Hi {{ firstName }}", client(budget=1), variables={"agentName": "Sam"})

    assert result.variables == {"firstName": "Maya"}


def test_the_callers_value_wins_over_the_clients_field() -> None:
    result = personalize(
        "{{ firstName }} / {{ budget }}", client(budget=450000), variables={"firstName": "Mia"}
    )

    assert result.content == "Mia / 450,000"


@pytest.mark.parametrize("empty", [None, ""])
def test_an_empty_value_from_the_caller_leaves_the_clients(empty: object) -> None:
    result = personalize("{{ firstName }}", client(), variables={"firstName": empty})

    assert result.content == "Maya"


def test_without_a_client_only_the_callers_variables() -> None:
    result = personalize("Hi {{ name }}", None, variables={"name": "Sam"})

    assert result == Personalized(
        content="Hi Sam", variables={"name": "Sam"}, missing=[], style=None, language=None
    )
    with pytest.raises(MissingVariables) as caught:
        personalize("Hi {{ firstName }}", None)
    assert caught.value.details == {"missing": ["firstName"]}


def test_nested_values_from_the_caller() -> None:
    listing = {"address": "12 Harbour Rd", "price": 725000, "open": date(2026, 3, 8)}

    result = personalize(
        "{{ listing.address }}: ${{ listing.price|money }}, open {{ listing.open }}",
        None,
        variables={"listing": listing},
    )

    assert result.content == "12 Harbour Rd: $725,000, open March 8, 2026"


def test_a_value_a_template_cannot_use_is_refused() -> None:
    with pytest.raises(TidingsError) as caught:
        personalize("{{ thing }}", None, variables={"thing": object()})

    assert (caught.value.status, caught.value.code) == (422, "invalid_variables")
    assert caught.value.details["variable"] == "thing"


def test_template_variables_names_what_a_template_uses() -> None:
    template = (
        "{% set greeting = 'Hi' %}{{ greeting }} {{ firstName }}"
        "{% for area in areas %}{{ area }}{{ loop.index }}{% endfor %}"
        "{{ nickname|default('') }}{{ range(2)|list }}"
    )

    assert template_variables(template) == {"firstName", "areas", "nickname"}
    assert template_variables("No variables here") == set()


# -- formats


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("budget", 450000, "450,000"),
        ("budget", 450000.0, "450,000"),
        ("price", 1234.5, "1,234.50"),
        ("listPrice", 1234.567, "1,234.57"),
        ("rent_amount", 1999.999, "2,000"),
        ("annualIncome", "120000", "120,000"),  # a CRM that sends numbers as text
        ("budget", "flexible", "flexible"),
        ("budget", -2500, "-2,500"),
        ("priceless", 1234.5, "1,234.5"),  # not a whole word: a number like any other
        ("yearBuilt", 1998, "1998"),  # an identifier: plain digits
        ("loanNumber", 123456, "123456"),
        ("paymentId", 987654, "987654"),
        ("squareFeet", 2400, "2,400"),
        ("score", 3.14159, "3.14"),
        ("ratio", 2.5, "2.5"),
        ("tiny", 0.0012, "0.0012"),
        ("preApproved", True, "yes"),
        ("hasPets", False, "no"),
        ("moveIn", "2026-03-05", "March 5, 2026"),
        ("lastVisit", "2026-03-05T22:15:00-08:00", "March 5, 2026"),  # the date as written
        ("createdAt", "2026-03-05T10:00:00Z", "March 5, 2026"),
        ("areas", ["Downtown", "Harbour"], "Downtown, Harbour"),
        ("prices", [450000, 1234.5], "450,000, 1,234.5"),
        ("notDate", "2026-13-45", "2026-13-45"),
        ("zip", "02134", "02134"),
    ],
)
def test_a_variable_on_its_own_is_formatted_by_name_then_type(name: str, value: object, shown: str) -> None:
    result = personalize(f"{{{{ {name} }}}}", None, variables={name: value})

    assert result.content == shown
    assert result.variables == {name: shown}


def test_a_loop_variable_is_formatted_by_its_name_too() -> None:
    result = personalize(
        "{% for price in prices %}${{ price }} {% endfor %}", None, variables={"prices": [1234.5, 9e5]}
    )

    assert result.content == "$1,234.50 $900,000 "


def test_money_in_the_issue_example() -> None:
    assert personalize("${{budget}}", client(budget=450000)).content == "$450,000"


def test_dates_and_times_given_as_objects() -> None:
    result = personalize(
        "{{ day }} / {{ moment }} / {{ amount }}",
        None,
        variables={
            "day": date(2026, 3, 5),
            "moment": datetime(2026, 3, 5, 9, tzinfo=UTC),
            "amount": Decimal("12.50"),
        },
    )

    assert result.content == "March 5, 2026 / March 5, 2026 / 12.50"


def test_an_expression_is_formatted_by_type_only() -> None:
    result = personalize("{{ budget + 0.5 }} {{ budget|default(0) }}", None, variables={"budget": 1000})

    assert result.content == "1,000.5 1,000"


def test_the_filters_a_template_may_use() -> None:
    template = (
        "{{ total|money }} {{ count|number }} {{ ratio|number(3) }} {{ day|date }} {{ day|date('short') }} "
        "{{ day|date('full') }} {{ day|date('iso') }} {{ name|upper }} {{ tags|join(' & ') }} "
        "{{ tags|length }} "
        "{{ word|replace('a', 'o') }} {{ 'soon'|money }}"
    )
    variables = {
        "total": 99.5,
        "count": 1234567,
        "ratio": 0.5,
        "day": "2026-03-05",
        "name": "maya",
        "tags": ["buyer", "vip"],
        "word": "banana",
    }

    result = personalize(template, None, variables=variables)

    assert result.content == (
        "99.50 1,234,567 0.500 March 5, 2026 Mar 5, 2026 Thursday, March 5, 2026 2026-03-05 MAYA "
        "buyer & vip 2 bonono soon"
    )


def test_an_unknown_date_style_is_a_template_error() -> None:
    error = refused("{{ '2026-03-05'|date('fancy') }}")

    assert (error.status, error.code) == (422, "template_invalid")
    assert "fancy" in error.message


def test_text_stays_plain_text() -> None:
    result = personalize("<b>{{ name }}</b> & co\n", None, variables={"name": "<Maya & Sam>"})

    assert result.content == "<b><Maya & Sam></b> & co\n"


# -- style and language


def test_a_formal_client_gets_formal_text_and_their_values_unchanged() -> None:
    record = client(style="formal", language="es", greeting="hey", nickname="Thanks")

    result = personalize("hey {{ firstName }}, thanks! {{ greeting }} {{ nickname }}. Yeah, HI", record)

    assert result.content == "Hello Maya, thank you! hey Thanks. Yes, HELLO"
    assert (result.style, result.language) == ("formal", "es")


def test_a_casual_client_gets_casual_text() -> None:
    result = personalize("Hello {{ firstName }}, Thank you.\nKind regards", client(style="casual"))

    assert result.content == "Hey Maya, Thanks.\nCheers"
    assert result.style == "casual"


def test_text_after_a_variable_does_not_start_a_sentence() -> None:
    result = personalize("{{ firstName }} hey, thanks", client(style="formal"))

    assert result.content == "Maya hello, thank you"


def test_no_style_without_a_preference_or_a_client() -> None:
    assert personalize("hey {{ firstName }}", client(style="friendly")).content == "hey Maya"
    assert personalize("hey {{ firstName }}", client(style="friendly")).style is None
    assert personalize("hey", None).style is None
    assert personalize("hey", client(language="pt-BR")).language == "pt-BR"


def test_the_same_template_in_two_styles() -> None:
    template = "hey {{ firstName }}, thank you"

    assert personalize(template, client(style="formal")).content == "Hello Maya, thank you"
    assert personalize(template, client(style="casual")).content == "hey Maya, thanks"


# -- missing variables and fallbacks


def test_missing_variables_are_a_422_listing_them() -> None:
    with pytest.raises(MissingVariables) as caught:
        personalize("{{ firstName }} {{ budget }} {{ agentName }} {{ zeta }}", client(budget=None))

    error = caught.value
    assert (error.status, error.code) == (422, "missing_variables")
    assert error.details == {"missing": ["agentName", "budget", "zeta"]}


@pytest.mark.parametrize("empty", [None, ""])
def test_an_empty_value_counts_as_missing(empty: object) -> None:
    with pytest.raises(MissingVariables) as from_the_client:
        personalize("Hi {{ notes }}", client(notes=empty))
    with pytest.raises(MissingVariables) as from_the_caller:
        personalize("Hi {{ agentName }}", None, variables={"agentName": empty})

    assert from_the_client.value.details == {"missing": ["notes"]}
    assert from_the_caller.value.details == {"missing": ["agentName"]}


def test_a_variable_in_a_branch_not_taken_is_still_needed() -> None:
    with pytest.raises(MissingVariables) as caught:
        personalize("{% if false %}{{ budget }}{% endif %}", client())

    assert caught.value.details == {"missing": ["budget"]}


def test_fallbacks_fill_missing_variables_and_are_reported() -> None:
    result = personalize(
        "Hi {{ nickname }}, budget ${{ budget }} with {{ agentName }}",
        client(budget=""),
        fallbacks={"nickname": "there", "budget": "500000", "agentName": "your agent", "unused": "x"},
        variables={"agentName": "Sam"},
    )

    assert result.content == "Hi there, budget $500,000 with Sam"
    assert result.missing == ["budget", "nickname"]
    assert result.variables == {"agentName": "Sam", "budget": "500,000", "nickname": "there"}


def test_a_fallback_may_be_explicitly_empty() -> None:
    result = personalize("Hi{{ suffix }}!", None, fallbacks={"suffix": ""})

    assert result.content == "Hi!"
    assert result.missing == ["suffix"]


def test_a_variable_the_template_says_may_be_missing() -> None:
    template = "Hi {{ nickname|default(firstName) }}{% if vip is defined %} (VIP){% endif %}"

    assert personalize(template, client()).content == "Hi Maya"
    assert personalize(template, client(nickname="", vip=True)).content == "Hi Maya (VIP)"
    assert personalize(template, client(nickname="Mimi")).content == "Hi Mimi"


def test_a_missing_attribute_of_a_value_is_reported() -> None:
    with pytest.raises(MissingVariables) as caught:
        personalize("{{ listing.price }}", None, variables={"listing": {"address": "12 Harbour Rd"}})

    assert caught.value.details == {"missing": ["price"]}


# -- content type


@pytest.mark.parametrize("content_type", ["email", "post", "sms", None])
def test_a_known_content_type_is_reported(content_type: str | None) -> None:
    assert personalize("Hi", None, content_type=content_type).content_type == content_type


def test_an_unknown_content_type_is_refused() -> None:
    with pytest.raises(TidingsError) as caught:
        personalize("Hi", None, content_type="fax")

    assert (caught.value.status, caught.value.code) == (422, "invalid_content_type")
    assert caught.value.details["supported"] == ["email", "post", "sms"]


# -- invalid templates


def test_a_syntax_error_names_its_line() -> None:
    error = refused("Hi {{ firstName }},\n\nYour budget is {{ budget | }}\nThanks")

    assert isinstance(error, TemplateInvalid)
    assert (error.status, error.code) == (422, "template_invalid")
    assert error.details["line"] == 3
    assert error.message.startswith("line 3: ")


@pytest.mark.parametrize(
    ("template", "line"),
    [("{% if x %}open", 1), ("a\n{% endfor %}", 2), ("{{ name|center(80) }}", 1), ("{{ x is prime }}", 1)],
)
def test_unclosed_blocks_and_unknown_filters_are_template_errors(template: str, line: int) -> None:
    error = refused(template)

    assert (error.code, error.details["line"]) == ("template_invalid", line)


def test_a_render_failing_on_its_values_is_a_template_error() -> None:
    error = refused("{{ count / 0 }}", variables={"count": 3})

    assert (error.status, error.code) == (422, "template_invalid")
    assert "division by zero" in error.message


def test_a_template_showing_an_object_is_a_template_error() -> None:
    assert refused("{{ namespace() }}").code == "template_invalid"


def test_a_template_too_long_is_refused() -> None:
    error = refused("x" * (MAX_TEMPLATE_CHARS + 1))

    assert isinstance(error, TemplateTooLarge)
    assert (error.status, error.code) == (413, "template_too_large")
    assert personalize("x" * MAX_TEMPLATE_CHARS, None).content == "x" * MAX_TEMPLATE_CHARS


def test_a_template_is_compiled_once() -> None:
    template = "Hi {{ firstName }} " + "unique text for the cache test"

    assert compile_template(template) is compile_template(template)
    assert compile_template(template, "formal") is not compile_template(template)


# -- leaving the sandbox


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ firstName.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__['__builtins__'] }}",
        "{{ self._TemplateReference__context }}",
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ firstName['__class__'] }}",
        "{% if false %}{{ ''.__class__ }}{% endif %}",  # refused even where it would not run
        "{% set c = cycler(1) %}{{ c.__class__.__init__ }}",
        "{% for x in [1] %}{{ loop.__class__ }}{% endfor %}",
    ],
)
def test_reaching_python_internals_is_refused(template: str) -> None:
    error = refused(template)

    assert isinstance(error, TemplateUnsafe)
    assert (error.status, error.code) == (400, "template_unsafe")
    assert "__" in error.message or "_TemplateReference" in error.message


@pytest.mark.parametrize(
    "template",
    [
        "{{ firstName['__cla' ~ 'ss__'] }}",  # a name built at render time
        "{% set n = '__glo' ~ 'bals__' %}{{ cycler.next[n] }}",
        "{{ (firstName|list)['__len__'] if false else firstName[['_', '_class__']|join] }}",
    ],
)
def test_internals_named_at_render_time_are_refused(template: str) -> None:
    error = refused(template)

    assert (error.status, error.code) == (400, "template_unsafe")


@pytest.mark.parametrize(
    "template",
    [
        "{% import 'os' as os %}{{ os }}",
        "{% from 'helpers' import secret %}",
        "{% include '/etc/passwd' %}",
        "{% extends 'base.html' %}",
        "{% if false %}{% include 'x' %}{% endif %}",
    ],
)
def test_loading_other_templates_is_refused(template: str) -> None:
    error = refused(template)

    assert (error.status, error.code) == (400, "template_unsafe")
    assert "import, include or extend" in error.message


def test_changing_values_and_calling_unsafe_methods_is_refused() -> None:
    assert refused("{% set x = [1] %}{{ x.append(2) }}").code == "template_unsafe"
    assert refused("{{ tags.clear() }}", variables={"tags": ["a"]}).code == "template_unsafe"
    assert refused("{{ '{0.__class__}'.format(firstName) }}").code == "template_unsafe"


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10**9 }}",
        "{{ 10**9 * 'x' }}",
        "{{ ['x'] * 10**9 }}",
        "{{ range(10**9)|list }}",
        "{{ range(10**100) }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}"
        "{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{{ 2 ** 100000 }}",
        "{% set ns = namespace(x=3) %}{% for i in range(30) %}{% set ns.x = ns.x * ns.x %}{% endfor %}"
        "{{ ns.x }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 'x'.center(10**9) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{% set a = 'x' * 99999 %}{{ a.replace('x', a) }}",
        "{{ 'x'|replace('x', 'y' * 99999)|replace('y', 'z' * 99999) }}",
        "{% set a = 'x' * 60000 %}{{ a ~ a }}",
        "{% set a = 'x' * 60000 %}{{ a + a }}",
        "{% set a = 'x' * 99999 %}{{ [a, a, a]|upper }}",
        "{% set a = 'x' * 99999 %}{{ [a, a]|join }}",
        "{% set a = 'x' * 50000 %}{{ [a, a, a] }}",
        "{% set b %}{% for i in range(100000) %}" + "y" * 2000 + "{% endfor %}{% endset %}{{ b|length }}",
        "{% set a = 'x' * 99999 %}{% for i in range(100000) %}{{ a }}{% endfor %}",
        "{{ (['x'] * 40000)|map('replace', 'x', 'y' * 99999)|join }}",
        "{{ {}.fromkeys(range(100000), 'x') }}",
        "{% set a = 'x' * 99999 %}{{ [a, a, a] is lower }}",
        "{% set a = 'x' * 99999 %}{% macro m() %}{{ varargs|string }}{% endmacro %}{{ m(a, a, a) }}",
        "{% set a = 'x' * 99999 %}{{ ['x']|join([a, a]) }}",
    ],
)
def test_a_render_that_would_run_away_is_refused(template: str) -> None:
    error = refused(template)

    assert (error.status, error.code) == (400, "template_unsafe")


def test_output_is_limited() -> None:
    error = refused("{{ text }}{{ text }}", variables={"text": "x" * (MAX_OUTPUT_CHARS // 2 + 1)})

    assert (error.status, error.code) == (400, "template_unsafe")
    assert error.details["max"] == MAX_OUTPUT_CHARS
    assert (
        len(personalize("{{ text }}", None, variables={"text": "x" * MAX_OUTPUT_CHARS}).content)
        == MAX_OUTPUT_CHARS
    )


def test_loops_macros_and_ranges_within_the_limits_render() -> None:
    template = (
        "{% macro line(area, n) %}{{ n }}. {{ area }}{% endmacro %}"
        "{% for area in areas %}{{ line(area, loop.index) }}{% if not loop.last %}; {% endif %}{% endfor %}"
        " | {{ range(3)|join(',') }} | {{ 'ab' * 3 }} | {{ 2 ** 10 }} | {{ 7 % 3 }}"
        "{% set c = cycler('odd', 'even') %} | {{ c.next() }} {{ c.next() }}"
    )

    result = personalize(template, None, variables={"areas": ["Downtown", "Harbour"]})

    assert result.content == "1. Downtown; 2. Harbour | 0,1,2 | ababab | 1,024 | 1 | odd even"


def test_a_render_after_a_refused_one_has_its_full_allowance() -> None:
    refused("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")

    result = personalize("{% for i in range(100000) %}{% endfor %}{{ range(100000)|length }}", None)

    assert result.content == "100,000"
