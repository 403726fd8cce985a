"""Quality gates: definitions, validation rules, thresholds, link checks and the toxicity word list.
HTTP goes through httpx.MockTransport and host names through a fake resolver: nothing leaves the process."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tidings.core.config import Settings
from tidings.workflows import gates
from tidings.workflows.gates import (
    FEEDBACK_PATTERNS,
    check_gate_definition,
    evaluate,
    lookup,
    toxicity,
)
from tidings.workflows.templates import TEMPLATES

SETTINGS = Settings()
PUBLIC = "93.184.215.14"


def resolver(table: dict[str, list[str]]) -> Callable[[str], list[str]]:
    def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]

    return resolve


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def validation(rules: dict[str, Any], output: dict[str, Any], **kwargs: Any) -> gates.GateResult:
    kwargs.setdefault("http", None)
    kwargs.setdefault("settings", SETTINGS)
    return evaluate({"type": "validation", "rules": rules}, output, **kwargs)


# --- definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gate",
    [
        {"type": "validation", "rules": {"maxLength": 280}, "maxFixAttempts": 2},
        {
            "type": "validation",
            "rules": {
                "requiredFields": ["text", "stats.engagementRate", "sections.0.title"],
                "field": "body",
                "minLength": 20,
                "maxLength": 3000,
                "bannedPhrases": ["guaranteed returns"],
                "requireLink": True,
                "checkLinks": True,
                "maxToxicity": 0.2,
            },
            "maxFixAttempts": 5,
        },
        {"type": "threshold", "metric": "dataPoints", "operator": "gte", "value": 10},
        {
            "type": "threshold",
            "metric": "stats.engagementRate",
            "operator": "lt",
            "value": 0.5,
            "maxFixAttempts": 0,
        },
        {"type": "approval"},
        {"type": "approval", "approvers": ["owner@example.com"], "timeoutHours": 48},
    ],
)
def test_valid_gate_definitions_have_no_problems(gate: dict[str, Any]) -> None:
    assert check_gate_definition(gate) == []


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        ("validation", "a gate must be an object"),
        ({"type": "vibes"}, "unknown gate type 'vibes'"),
        ({"rules": {}}, "unknown gate type None"),
        (
            {"type": "threshold", "metric": "dataPoints", "operator": "ge", "value": 1},
            "operator must be one of",
        ),
        ({"type": "threshold", "metric": "dataPoints", "operator": "gte", "value": "many"}, "value:"),
        ({"type": "threshold", "metric": "dataPoints", "operator": "gte", "value": math.inf}, "value:"),
        ({"type": "threshold", "metric": "data points", "operator": "gte", "value": 1}, "not a dotted path"),
        ({"type": "threshold", "operator": "gte", "value": 1}, "metric: Field required"),
        (
            {"type": "validation", "rules": {"maxLenght": 280}},
            "unknown rule 'maxLenght'; known rules: requiredFields",
        ),
        ({"type": "validation", "rules": {"maxLength": 0}}, "rules.maxLength:"),
        ({"type": "validation", "rules": {"maxToxicity": 1.5}}, "rules.maxToxicity:"),
        ({"type": "validation", "rules": {"minLength": 50, "maxLength": 10}}, "minLength 50 is greater than"),
        ({"type": "validation", "rules": {"bannedPhrases": ["  "]}}, "must not be empty"),
        ({"type": "validation", "rules": {}, "maxFixAttempts": 6}, "maxFixAttempts:"),
        ({"type": "validation", "rules": {}, "maxFixAttempts": -1}, "maxFixAttempts:"),
        ({"type": "approval", "timeoutHours": 0}, "timeoutHours:"),
        ({"type": "approval", "maxFixAttempts": 1}, "unknown field 'maxFixAttempts' in the approval gate"),
    ],
)
def test_bad_gate_definitions_are_explained(gate: Any, expected: str) -> None:
    problems = check_gate_definition(gate)
    assert problems, gate
    assert any(expected in p for p in problems), problems


def test_every_gate_in_the_built_in_templates_is_valid() -> None:
    given = {
        "content-to-social": {"topic": "Spring open house season"},
        "listing-campaign": {"address": "12 Oak Street", "bedrooms": 3},
        "market-analysis-report": {"deliverTo": "owner@example.com"},
    }
    for name, template in TEMPLATES.items():
        definition = template.build(template.resolve_parameters(given[name]))
        for step in definition["steps"]:
            for gate in step.get("gates", []):
                assert check_gate_definition(gate) == [], (name, step["id"], gate)


# --- validation ----------------------------------------------------------------------------------


def test_required_fields_must_be_present_and_non_empty() -> None:
    output = {
        "text": "Hello",
        "stats": {"engagementRate": 0.0, "empty": []},
        "sections": [{"title": "Overview"}],
        "blank": "   ",
        "none": None,
        "flag": False,
    }
    rules = {
        "requiredFields": [
            "text",
            "stats.engagementRate",
            "sections.0.title",
            "flag",
            "sections.1.title",
            "stats.empty",
            "blank",
            "none",
            "nowhere.at.all",
        ]
    }
    result = validation(rules, output)
    assert not result.passed
    assert result.reasons == [
        "missing field sections.1.title",
        "missing field stats.empty",
        "missing field blank",
        "missing field none",
        "missing field nowhere.at.all",
    ]


def test_length_rules_give_machine_readable_reasons() -> None:
    long = validation({"maxLength": 280}, {"text": "x" * 312})
    assert long.reasons == ["text is 312 characters; at most 280 allowed"]
    short = validation({"minLength": 20}, {"text": "Too short"})
    assert short.reasons == ["text is 9 characters; at least 20 required"]
    assert validation({"minLength": 5, "maxLength": 10}, {"text": "just right"}).passed


def test_the_text_field_can_be_chosen_and_must_be_text() -> None:
    assert validation({"field": "body", "maxLength": 5}, {"body": "123456"}).reasons == [
        "body is 6 characters; at most 5 allowed"
    ]
    assert validation({"maxLength": 5}, {"body": "x"}).reasons == ["missing field text"]
    assert validation({"maxLength": 5}, {"text": 42}).reasons == ["text is not a string"]
    # no text rule: a missing text field is not a problem of its own
    assert validation({"requiredFields": ["title"]}, {"title": "Report"}).passed


def test_banned_phrases_match_whole_phrases_in_any_case() -> None:
    rules = {"bannedPhrases": ["guaranteed returns", "no kids"]}
    result = validation(rules, {"text": "GUARANTEED\n  returns on this duplex! No kids."})
    assert result.reasons == [
        'contains banned phrase "guaranteed returns"',
        'contains banned phrase "no kids"',
    ]
    assert validation(rules, {"text": "No kidding, the returns are guaranteed to please."}).passed


def test_require_link() -> None:
    rules = {"requireLink": True}
    assert validation(rules, {"text": "See https://example.com/listing."}).passed
    assert validation(rules, {"text": "See example.com"}).reasons == ["text must contain a link"]


def test_max_toxicity() -> None:
    rules = {"maxToxicity": 0.2}
    clean = validation(rules, {"text": "A bright three-bedroom home with a sunny garden, close to schools."})
    assert clean.passed
    assert clean.details["toxicity"] == 0
    rude = validation(rules, {"text": "Only an idiot would miss this, you morons."})
    assert not rude.passed
    assert rude.reasons[0].startswith("toxicity is 0.")
    assert rude.reasons[0].endswith("; at most 0.20 allowed")
    assert rude.details["toxicTerms"] == ["idiot", "morons"]


def test_approval_gates_are_not_evaluated_here() -> None:
    with pytest.raises(ValueError, match="approval"):
        evaluate({"type": "approval"}, {"text": "x"}, http=None, settings=SETTINGS)


def test_an_invalid_gate_is_refused_at_evaluation() -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        evaluate({"type": "validation", "rules": {"nope": 1}}, {}, http=None, settings=SETTINGS)


def test_gate_result_as_a_dict() -> None:
    result = validation({"maxLength": 3}, {"text": "four"})
    assert result.to_dict() == {
        "passed": False,
        "gateType": "validation",
        "reasons": ["text is 4 characters; at most 3 allowed"],
        "details": {"length": 4, "toxicity": 0.0, "toxicTerms": [], "links": []},
    }


# --- thresholds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "passed"),
    [
        ("gte", 12, True),
        ("gte", 13, False),
        ("gt", 11, True),
        ("gt", 12, False),
        ("lte", 12, True),
        ("lte", 11, False),
        ("lt", 13, True),
        ("lt", 12, False),
        ("eq", 12, True),
        ("eq", 12.5, False),
    ],
)
def test_threshold_operators(operator: str, value: float, passed: bool) -> None:
    gate = {"type": "threshold", "metric": "dataPoints", "operator": operator, "value": value}
    assert evaluate(gate, {"dataPoints": 12}, http=None, settings=SETTINGS).passed is passed


def test_threshold_reasons() -> None:
    gate = {"type": "threshold", "metric": "stats.engagementRate", "operator": "gte", "value": 0.05}
    low = evaluate(gate, {"stats": {"engagementRate": 0.0125}}, http=None, settings=SETTINGS)
    assert low.reasons == ["stats.engagementRate is 0.0125; must be >= 0.05"]
    assert low.details["actual"] == 0.0125
    assert evaluate(gate, {"stats": {}}, http=None, settings=SETTINGS).reasons == [
        "missing field stats.engagementRate"
    ]
    for bad in ("12", True, math.nan):
        result = evaluate(gate, {"stats": {"engagementRate": bad}}, http=None, settings=SETTINGS)
        assert result.reasons == ["stats.engagementRate is not a number"]
    counts = {"type": "threshold", "metric": "dataPoints", "operator": "gte", "value": 30}
    assert evaluate(counts, {"dataPoints": 12}, http=None, settings=SETTINGS).reasons == [
        "dataPoints is 12; must be >= 30"
    ]


def test_eq_tolerates_float_rounding() -> None:
    gate = {"type": "threshold", "metric": "x", "operator": "eq", "value": 0.3}
    assert evaluate(gate, {"x": 0.1 + 0.2}, http=None, settings=SETTINGS).passed


def test_lookup_walks_dicts_and_lists() -> None:
    data = {"a": {"b": [{"c": 1}]}}
    assert lookup(data, "a.b.0.c") == 1
    assert lookup(data, "a.b.1.c") is gates._MISSING
    assert lookup(data, "a.x") is gates._MISSING


# --- links ---------------------------------------------------------------------------------------


def test_find_links_drops_trailing_punctuation() -> None:
    text = "Tour it (https://example.com/tour), then book: https://example.com/book?x=1. Or http://a.b/c!"
    assert gates.find_links(text) == [
        "https://example.com/tour",
        "https://example.com/book?x=1",
        "http://a.b/c",
    ]


def test_check_links_heads_each_link_once() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url)))
        if request.url.path == "/gone":
            return httpx.Response(404)
        if request.url.path == "/no-head":
            return httpx.Response(405) if request.method == "HEAD" else httpx.Response(200)
        if request.url.path == "/moved":
            return httpx.Response(301, headers={"Location": "http://127.0.0.1/"})
        return httpx.Response(200)

    text = (
        "Listing https://homes.example/ok and again https://homes.example/ok, "
        "old https://homes.example/gone, https://homes.example/no-head and https://homes.example/moved."
    )
    result = validation(
        {"checkLinks": True},
        {"text": text},
        http=client(handler),
        resolve=resolver({"homes.example": [PUBLIC]}),
    )
    assert result.reasons == ["broken link https://homes.example/gone (answered 404)"]
    assert seen == [
        ("HEAD", "https://homes.example/ok"),
        ("HEAD", "https://homes.example/gone"),
        ("HEAD", "https://homes.example/no-head"),
        ("GET", "https://homes.example/no-head"),
        ("HEAD", "https://homes.example/moved"),  # a redirect answers < 400 and is not followed
    ]
    statuses = {link["url"]: link["status"] for link in result.details["links"]}
    assert statuses["https://homes.example/no-head"] == 200


def test_timeouts_and_transport_errors_are_broken_links() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.example":
            raise httpx.ReadTimeout("slow", request=request)
        raise httpx.ConnectError("refused", request=request)

    result = validation(
        {"checkLinks": True},
        {"text": "https://slow.example/a https://down.example/b"},
        http=client(handler),
        resolve=resolver({"slow.example": [PUBLIC], "down.example": [PUBLIC]}),
    )
    assert result.reasons == [
        "broken link https://slow.example/a (timed out)",
        "broken link https://down.example/b (the server could not be reached)",
    ]


def test_private_loopback_link_local_and_unknown_hosts_are_refused_without_a_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request expected, got {request.url}")

    text = " ".join(
        [
            "http://127.0.0.1/admin",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:10.1.2.3]/",
            "https://intranet.example/",
            "https://rebind.example/",
            "http://localhost:8080/",
            "https://nowhere.example/",
            "https://bad_host!.example/",
        ]
    )
    resolve = resolver({"intranet.example": ["192.168.1.20"], "rebind.example": [PUBLIC, "::1"]})
    result = validation({"checkLinks": True}, {"text": text}, http=client(handler), resolve=resolve)
    assert result.reasons == [
        "broken link http://127.0.0.1/admin (loopback address)",
        "broken link http://169.254.169.254/latest/meta-data (link-local address)",
        "broken link http://[::ffff:10.1.2.3]/ (private address)",
        "broken link https://intranet.example/ (private address)",  # what the name resolved to is not said
        "broken link https://rebind.example/ (loopback address)",
        "broken link http://localhost:8080/ (local host name)",
        "broken link https://nowhere.example/ (not found)",
        "broken link https://bad_host!.example/ (malformed)",
    ]


def test_private_links_are_allowed_when_the_setting_says_so() -> None:
    result = evaluate(
        {"type": "validation", "rules": {"checkLinks": True}},
        {"text": "Local preview: http://127.0.0.1:3000/listing"},
        http=client(lambda request: httpx.Response(204)),
        settings=Settings(allow_private_links=True),
    )
    assert result.passed


def test_check_links_needs_a_client() -> None:
    with pytest.raises(ValueError, match="HTTP client"):
        validation({"checkLinks": True}, {"text": "https://example.com"})


# --- toxicity ------------------------------------------------------------------------------------


def test_toxicity_follows_its_documented_formula() -> None:
    ten = "you are an idiot and that is all I have"  # 10 words, one 0.8 term
    assert toxicity(ten).score == pytest.approx(1 - math.exp(-1.5 * 0.8), abs=1e-9)
    twenty = "this shit " + " ".join(["word"] * 18)
    assert toxicity(twenty).score == pytest.approx(0.53, abs=0.01)
    fifty = "fuck " + " ".join(["word"] * 49)
    assert toxicity(fifty).score == pytest.approx(0.26, abs=0.01)
    mild = "a damn fine porch " + " ".join(["word"] * 16)
    assert toxicity(mild).score == pytest.approx(0.14, abs=0.01)


def test_toxicity_matches_whole_words_and_phrases() -> None:
    innocent = (
        "Hello! A classic Scunthorpe cottage, assessed value up, trash pickup weekly, jerk chicken nearby."
    )
    assert toxicity(innocent).score == 0
    threat = "Sell to us or you\u2019re dead to this town"
    assert toxicity(threat).terms == ["you're dead"]
    assert toxicity("").score == 0


def test_more_abuse_scores_higher() -> None:
    one = toxicity("What a stupid layout for a kitchen in a house like this")
    three = toxicity("What a stupid idiotic moronic layout for a kitchen in a house")
    assert 0 < one.score < three.score < 1


# --- feedback sentences --------------------------------------------------------------------------


def test_every_feedback_sentence_is_parsed_back() -> None:
    sentences = {
        "missing_field": gates.missing_field("details.price"),
        "too_long": gates.too_long("text", 312, 280),
        "too_short": gates.too_short("text", 12, 20),
        "banned_phrase": gates.banned_phrase("guaranteed returns"),
        "link_required": gates.link_required("text"),
        "broken_link": gates.broken_link("https://example.com/x", "answered 404"),
        "too_toxic": gates.too_toxic(0.4567, 0.2),
    }
    for kind, sentence in sentences.items():
        matches = [k for k, pattern in FEEDBACK_PATTERNS.items() if pattern.match(sentence)]
        assert matches == [kind], sentence
    assert sentences["too_toxic"] == "toxicity is 0.46; at most 0.20 allowed"
    match = FEEDBACK_PATTERNS["too_long"].match(sentences["too_long"])
    assert match
    assert match.group("limit") == "280"
