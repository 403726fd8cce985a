"""Quality gates: checks a step's output must pass before the workflow goes on.

Gate definitions (camelCase, as in workflow JSON):

- ``{"type": "validation", "rules": {...}, "maxFixAttempts": 0-5}``: rules on the output (below);
- ``{"type": "threshold", "metric": "stats.engagementRate", "operator": "gte", "value": 30,
  "maxFixAttempts": 0-5}``: a number in the output, found by a dotted path (list items by index,
  ``sections.0.title``), compared with ``value``;
- ``{"type": "approval", "approvers": [...], "timeoutHours": 48}``: a person decides; the engine handles
  it, this module only holds its model.

Validation rules: ``requiredFields`` (dotted paths that must be present and non-empty), ``field`` (the
output field that holds the text, default ``text``), ``minLength`` / ``maxLength`` (characters),
``bannedPhrases`` (case-insensitive, whole phrase: "no kids" does not match "no kidding"),
``requireLink``, ``checkLinks`` (every http(s) URL in the text is well formed, is not on a private,
loopback or link-local address unless the ``allow_private_links`` setting is on, and answers a HEAD --
or a GET when HEAD is 405 -- with a status below 400; redirects are not followed, a timeout is a
failure) and ``maxToxicity`` (0..1, see ``toxicity``).

Reasons are feedback: each is a short sentence in one of the forms below, which ``generate_content``
reads back to fix its next attempt (``FEEDBACK_PATTERNS`` parses them; keep the two in step):

- ``missing field <path>``
- ``<field> is <n> characters; at most <max> allowed``
- ``<field> is <n> characters; at least <min> required``
- ``contains banned phrase "<phrase>"``
- ``<field> must contain a link``
- ``broken link <url> (<why>)``
- ``toxicity is <score>; at most <max> allowed``
- ``<field> is not a string`` and, for thresholds, ``<metric> is not a number`` and
  ``<metric> is <actual>; must be <op> <value>`` (not something a text generator can fix).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from tidings.core.netguard import Resolver, url_problem

if TYPE_CHECKING:
    import httpx

    from tidings.core.config import Settings

GateType = Literal["validation", "threshold", "approval"]
Operator = Literal["gte", "gt", "lte", "lt", "eq"]

MAX_FIX_ATTEMPTS = 5
MAX_LINKS_CHECKED = 20
_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ValidationRules(_Model):
    required_fields: list[str] = Field(default_factory=list, max_length=100)
    field: str = "text"
    min_length: int | None = Field(default=None, ge=0, le=1_000_000)
    max_length: int | None = Field(default=None, ge=1, le=1_000_000)
    banned_phrases: list[str] = Field(default_factory=list, max_length=1000)
    require_link: bool = False
    check_links: bool = False
    max_toxicity: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)

    @field_validator("required_fields")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not _PATH.match(path):
                raise ValueError(f"{path!r} is not a dotted path (letters, digits, _ and - between dots)")
        return value

    @field_validator("field")
    @classmethod
    def _field_path(cls, value: str) -> str:
        if not _PATH.match(value):
            raise ValueError(f"{value!r} is not a dotted path")
        return value

    @field_validator("banned_phrases")
    @classmethod
    def _phrases(cls, value: list[str]) -> list[str]:
        phrases = [" ".join(p.split()) for p in value]
        if any(not p for p in phrases):
            raise ValueError("banned phrases must not be empty")
        return phrases

    @model_validator(mode="after")
    def _lengths(self) -> ValidationRules:
        if self.min_length is not None and self.max_length is not None and self.min_length > self.max_length:
            raise ValueError(f"minLength {self.min_length} is greater than maxLength {self.max_length}")
        return self

    @property
    def checks_text(self) -> bool:
        return bool(
            self.min_length is not None
            or self.max_length is not None
            or self.banned_phrases
            or self.require_link
            or self.check_links
            or self.max_toxicity is not None
        )


class ValidationGate(_Model):
    type: Literal["validation"]
    rules: ValidationRules
    max_fix_attempts: int = Field(default=0, ge=0, le=MAX_FIX_ATTEMPTS)


class ThresholdGate(_Model):
    type: Literal["threshold"]
    metric: str
    operator: Operator
    value: float = Field(allow_inf_nan=False)
    max_fix_attempts: int = Field(default=0, ge=0, le=MAX_FIX_ATTEMPTS)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if not _PATH.match(value):
            raise ValueError(f"{value!r} is not a dotted path into the output")
        return value


class ApprovalGate(_Model):
    type: Literal["approval"]
    approvers: list[str] = Field(default_factory=list, max_length=50)
    timeout_hours: float | None = Field(default=None, gt=0, le=24 * 90, allow_inf_nan=False)


Gate = ValidationGate | ThresholdGate | ApprovalGate
GATE_MODELS: dict[str, type[ValidationGate] | type[ThresholdGate] | type[ApprovalGate]] = {
    "validation": ValidationGate,
    "threshold": ThresholdGate,
    "approval": ApprovalGate,
}


@dataclass(frozen=True)
class GateResult:
    passed: bool
    gate_type: GateType
    reasons: list[str] = dataclass_field(default_factory=list)
    details: dict[str, Any] = dataclass_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "gateType": self.gate_type,
            "reasons": list(self.reasons),
            "details": self.details,
        }


# --- definitions ---------------------------------------------------------------------------------


def check_gate_definition(gate: Any) -> list[str]:
    """Problems with a gate as written in a definition (empty when it is valid)."""
    if not isinstance(gate, Mapping):
        return ["a gate must be an object"]
    kind = gate.get("type")
    model = GATE_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return [f"unknown gate type {kind!r}; expected one of {', '.join(GATE_MODELS)}"]
    try:
        model.model_validate(dict(gate))
    except ValidationError as exc:
        return [_problem(str(kind), error) for error in exc.errors()]
    return []


def parse_gate(gate: Gate | Mapping[str, Any]) -> Gate:
    """The gate model; ValueError listing the problems when the definition is not valid."""
    if isinstance(gate, ValidationGate | ThresholdGate | ApprovalGate):
        return gate
    problems = check_gate_definition(gate)
    if problems:
        raise ValueError("invalid gate: " + "; ".join(problems))
    return GATE_MODELS[gate["type"]].model_validate(dict(gate))


def parse_rules(rules: Any) -> ValidationRules:
    """Validation rules from a definition's ``rules`` object; ValueError listing the problems."""
    if not isinstance(rules, Mapping):
        raise ValueError("rules must be an object")
    try:
        return ValidationRules.model_validate(dict(rules))
    except ValidationError as exc:
        problems = [_problem("validation", {**e, "loc": ("rules", *e["loc"])}) for e in exc.errors()]
        raise ValueError("; ".join(problems)) from None


def _problem(kind: str, error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = ".".join(loc)
    if error.get("type") == "extra_forbidden":
        if loc[:1] == ["rules"] and len(loc) == 2:
            known = ", ".join(
                ValidationRules.model_fields[n].alias or n for n in ValidationRules.model_fields
            )
            return f"unknown rule {loc[1]!r}; known rules: {known}"
        return f"unknown field {where!r} in the {kind} gate"
    if loc == ["operator"]:
        return "operator must be one of gte, gt, lte, lt, eq"
    message = str(error.get("msg", "is not valid"))
    return f"{where}: {message}" if where else message


# --- feedback sentences --------------------------------------------------------------------------


def missing_field(path: str) -> str:
    return f"missing field {path}"


def too_long(field: str, length: int, maximum: int) -> str:
    return f"{field} is {length} characters; at most {maximum} allowed"


def too_short(field: str, length: int, minimum: int) -> str:
    return f"{field} is {length} characters; at least {minimum} required"


def banned_phrase(phrase: str) -> str:
    return f'contains banned phrase "{phrase}"'


def link_required(field: str) -> str:
    return f"{field} must contain a link"


def broken_link(url: str, why: str) -> str:
    return f"broken link {url} ({why})"


def too_toxic(score: float, maximum: float) -> str:
    return f"toxicity is {score:.2f}; at most {maximum:.2f} allowed"


FEEDBACK_PATTERNS: dict[str, re.Pattern[str]] = {
    "missing_field": re.compile(r"^missing field (?P<path>\S+)$"),
    "too_long": re.compile(r"^(?P<field>\S+) is (?P<length>\d+) characters; at most (?P<limit>\d+) allowed$"),
    "too_short": re.compile(
        r"^(?P<field>\S+) is (?P<length>\d+) characters; at least (?P<limit>\d+) required$"
    ),
    "banned_phrase": re.compile(r'^contains banned phrase "(?P<phrase>.+)"$'),
    "link_required": re.compile(r"^(?P<field>\S+) must contain a link$"),
    "broken_link": re.compile(r"^broken link (?P<url>\S+) \((?P<why>.*)\)$"),
    "too_toxic": re.compile(r"^toxicity is (?P<score>[0-9.]+); at most (?P<limit>[0-9.]+) allowed$"),
}


# --- evaluation ----------------------------------------------------------------------------------


def evaluate(
    gate: Gate | Mapping[str, Any],
    output: Mapping[str, Any],
    *,
    http: httpx.Client | None,
    settings: Settings,
    resolve: Resolver | None = None,
) -> GateResult:
    """Whether `output` passes `gate`, and why not. `http` is needed only by ``checkLinks``.
    Approval gates are decided by a person through the engine, not here (ValueError)."""
    model = parse_gate(gate)
    if isinstance(model, ValidationGate):
        report = check_rules(
            model.rules, output, http=http, allow_private=settings.allow_private_links, resolve=resolve
        )
        return GateResult(not report.problems, "validation", report.problems, report.details())
    if isinstance(model, ThresholdGate):
        return _threshold(model, output)
    raise ValueError("approval gates are decided by a person through the engine, not evaluated")


@dataclass
class RuleReport:
    problems: list[str]
    length: int
    toxicity: float
    toxic_terms: list[str]
    links: list[dict[str, Any]]

    def details(self) -> dict[str, Any]:
        return {
            "length": self.length,
            "toxicity": round(self.toxicity, 4),
            "toxicTerms": self.toxic_terms,
            "links": self.links,
        }


def check_rules(
    rules: ValidationRules,
    output: Mapping[str, Any],
    *,
    http: httpx.Client | None,
    allow_private: bool,
    resolve: Resolver | None = None,
) -> RuleReport:
    """Apply validation rules to an output object (the text is at ``rules.field``)."""
    problems = [missing_field(p) for p in rules.required_fields if not is_present(lookup(output, p))]
    value = lookup(output, rules.field)
    text = value if isinstance(value, str) else ""
    if rules.checks_text and not isinstance(value, str):
        reason = missing_field(rules.field) if value in (_MISSING, None) else f"{rules.field} is not a string"
        if reason not in problems:
            problems.append(reason)
    score = toxicity(text)
    problems += _text_problems(rules, text, score)
    links: list[dict[str, Any]] = []
    if rules.check_links and text:
        if http is None:
            raise ValueError("checkLinks needs an HTTP client")
        links = check_links(text, http, allow_private=allow_private, resolve=resolve)
        problems += [broken_link(link["url"], link["problem"]) for link in links if link["problem"]]
    return RuleReport(problems, len(text), score.score, score.terms, links)


def _text_problems(rules: ValidationRules, text: str, score: ToxicityScore) -> list[str]:
    problems: list[str] = []
    if rules.max_length is not None and len(text) > rules.max_length:
        problems.append(too_long(rules.field, len(text), rules.max_length))
    if rules.min_length is not None and len(text) < rules.min_length:
        problems.append(too_short(rules.field, len(text), rules.min_length))
    for phrase in rules.banned_phrases:
        if phrase_pattern(phrase).search(text):
            problems.append(banned_phrase(phrase))
    if rules.require_link and not find_links(text):
        problems.append(link_required(rules.field))
    if rules.max_toxicity is not None and score.score > rules.max_toxicity:
        problems.append(too_toxic(score.score, rules.max_toxicity))
    return problems


_SYMBOLS: dict[str, str] = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<", "eq": "="}


def _threshold(gate: ThresholdGate, output: Mapping[str, Any]) -> GateResult:
    actual = lookup(output, gate.metric)
    details: dict[str, Any] = {"metric": gate.metric, "operator": gate.operator, "value": gate.value}
    if actual is _MISSING or actual is None:
        return GateResult(False, "threshold", [missing_field(gate.metric)], details)
    if isinstance(actual, bool) or not isinstance(actual, int | float) or not math.isfinite(actual):
        return GateResult(False, "threshold", [f"{gate.metric} is not a number"], details)
    details["actual"] = actual
    if compare(float(actual), gate.operator, gate.value):
        return GateResult(True, "threshold", [], details)
    reason = f"{gate.metric} is {_number(actual)}; must be {_SYMBOLS[gate.operator]} {_number(gate.value)}"
    return GateResult(False, "threshold", [reason], details)


def compare(actual: float, operator: str, value: float) -> bool:
    if operator == "gte":
        return actual >= value
    if operator == "gt":
        return actual > value
    if operator == "lte":
        return actual <= value
    if operator == "lt":
        return actual < value
    if operator == "eq":
        return math.isclose(actual, value, rel_tol=1e-9, abs_tol=1e-9)
    raise ValueError(f"unknown operator {operator!r}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


# --- paths ---------------------------------------------------------------------------------------


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path (dict keys; list items by index), or the ``_MISSING`` marker."""
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def is_present(value: Any) -> bool:
    """Present and non-empty: not missing, not None, not blank text, not an empty list or object
    (0 and false are values)."""
    if value is _MISSING or value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict):
        return len(value) > 0
    return True


# --- phrases and links ---------------------------------------------------------------------------


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Matches `phrase` as a whole phrase, any case, any run of whitespace between its words."""
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


_URL = re.compile(r"""https?://[^\s<>"'`]+""", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\"…"


def find_links(text: str) -> list[str]:
    """Every http(s) URL in the text, in order, without trailing punctuation."""
    return [match.rstrip(_URL_TRAILING) for match in _URL.findall(text)]


def check_links(
    text: str, http: httpx.Client, *, allow_private: bool, resolve: Resolver | None = None
) -> list[dict[str, Any]]:
    """Each distinct link in the text (at most MAX_LINKS_CHECKED) with its status and problem."""
    results: list[dict[str, Any]] = []
    for url in list(dict.fromkeys(find_links(text)))[:MAX_LINKS_CHECKED]:
        problem = url_problem(url, allow_private=allow_private, resolve=resolve)
        status = None
        if problem is None:
            status, problem = _probe(http, url)
        results.append({"url": url, "status": status, "problem": problem})
    return results


def _probe(http: httpx.Client, url: str) -> tuple[int | None, str | None]:
    from tidings.core.fetch import FETCH_ERRORS, failure

    try:
        status = http.head(url, follow_redirects=False).status_code
        if status == 405:
            with http.stream("GET", url, follow_redirects=False) as response:
                status = response.status_code
    except FETCH_ERRORS as exc:  # the same words whatever the OS said (tidings.core.fetch)
        reason, message = failure(exc)
        return None, "timed out" if reason == "timeout" else message
    return status, (f"answered {status}" if status >= 400 else None)


# --- toxicity ------------------------------------------------------------------------------------

# A word list, not a model: each entry is a term (one word, or a phrase matched as a whole) and its
# weight. Categories: strong profanity 1.0, threats 1.0, demeaning terms 0.9, insults 0.8, moderate
# profanity 0.5, mild words 0.2. It misses obfuscated spellings ("f*ck"), sarcasm and context, and
# it flags quoted or reclaimed uses; it is a guard against plainly abusive copy, nothing more. Words
# with everyday uses in local-business copy ("trash pickup", "jerk chicken", "vermin control") are left out.
_LEXICON: dict[str, tuple[float, str]] = {
    "profanity": (
        1.0,
        "fuck, fucks, fucked, fucking, fucker, motherfucker, shit, shits, shitty, bullshit, cunt, cunts, "
        "dickhead, pussy, twat, wanker",
    ),
    "threat": (
        1.0,
        "kill you, kill yourself, i will hurt you, you will regret, you'll regret, burn your house, "
        "beat you up, watch your back, you're dead, you are dead, i know where you live",
    ),
    "demeaning": (0.9, "retard, retarded, retards, subhuman, savages, degenerate, degenerates"),
    "insult": (
        0.8,
        "idiot, idiots, idiotic, moron, morons, moronic, stupid, imbecile, dumbass, loser, losers, scum, "
        "scumbag, pathetic, worthless, bitch, bitches, bastard, bastards, asshole, assholes, "
        "garbage people, shut up, lowlife",
    ),
    "moderate": (0.5, "crap, crappy, piss, pissed, sucks, screw you, damned, bloody hell"),
    "mild": (0.2, "damn, hell, dumb, lame, freaking, frickin, heck"),
}
TOXICITY_RATE = 1.5  # per weighted hit per 10 words, in 1 - exp(-rate * density)


def _build_lexicon() -> tuple[dict[str, float], list[tuple[re.Pattern[str], str, float]]]:
    words: dict[str, float] = {}
    phrases: list[tuple[re.Pattern[str], str, float]] = []
    for weight, terms in _LEXICON.values():
        for term in (t.strip() for t in terms.split(",")):
            if " " in term or "'" in term:
                phrases.append((phrase_pattern(term), term, weight))
            else:
                words[term] = weight
    return words, phrases


_WORD_WEIGHTS, _PHRASE_WEIGHTS = _build_lexicon()
# Each listed term's category (a key of _LEXICON), for readers that say what kind of abuse was found.
TERM_CATEGORIES = {
    term.strip(): category for category, (_, terms) in _LEXICON.items() for term in terms.split(",")
}
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")


@dataclass(frozen=True)
class ToxicityScore:
    score: float
    terms: list[str]
    words: int

    @property
    def categories(self) -> list[str]:
        """The categories of the terms found (``profanity``, ``threat``, ``demeaning``, ``insult``,
        ``moderate``, ``mild``), sorted."""
        return sorted({TERM_CATEGORIES[term] for term in self.terms})


def toxicity(text: str) -> ToxicityScore:
    """A word-list toxicity score in 0..1 (not a model).

    ``score = 1 - exp(-1.5 * weighted_hits / (max(words, 10) / 10))``: the weighted hits per ten words,
    saturating toward 1. One strong term (weight 1.0) scores 0.78 in a 10-word post, 0.53 in 20 words
    and 0.26 in 50; one mild word (0.2) scores 0.14 in 20 words. Text without listed terms scores 0.
    """
    tokens = [t.lower().replace("\u2019", "'") for t in _WORD.findall(text)]
    hits: list[str] = []
    weighted = 0.0
    for token in tokens:
        if token in _WORD_WEIGHTS:
            hits.append(token)
            weighted += _WORD_WEIGHTS[token]
    for pattern, term, weight in _PHRASE_WEIGHTS:
        count = len(pattern.findall(text.replace("\u2019", "'")))
        if count:
            hits += [term] * count
            weighted += weight * count
    if not weighted:
        return ToxicityScore(0.0, [], len(tokens))
    density = weighted / (max(len(tokens), 10) / 10)
    return ToxicityScore(1.0 - math.exp(-TOXICITY_RATE * density), sorted(set(hits)), len(tokens))
