"""validate_content: hold a text to the validation gate's rules and report, without failing the step.

Parameters: ``text`` (usually a reference to an earlier step's output) and ``rules``, the rule set of a
validation gate (``tidings.workflows.gates``); ``requiredFields`` and ``field`` look into an output
object, so here they apply to ``{"text": text}``. Output: ``{"valid", "problems", "toxicity",
"length", "toxicTerms", "links"}``; problems are the gate's feedback sentences. Invalid content is
a result, not a failure (a gate on this step can stop the workflow); bad parameters fail at once.
"""

from __future__ import annotations

from typing import Any

from tidings.core.netguard import Resolver
from tidings.workflows.action import ActionContext, ActionFailed, is_reference
from tidings.workflows.gates import ValidationRules, check_rules, parse_rules

MAX_TEXT = 200_000


class ValidateContent:
    name = "validate_content"
    description = (
        "Check a text against validation rules (`text`, `rules`: requiredFields, minLength, maxLength, "
        "bannedPhrases, requireLink, checkLinks, maxToxicity); reports problems, never fails on them."
    )

    def __init__(self, resolve: Resolver | None = None) -> None:
        self._resolve = resolve  # host name -> addresses for checkLinks (None: the system resolver)

    def check_params(self, params: dict[str, Any]) -> list[str]:
        problems = [f"unknown parameter {k!r}" for k in params if k not in ("text", "rules")]
        text = params.get("text")
        if "text" not in params:
            problems.append("text is required")
        elif not is_reference(text) and not isinstance(text, str):
            problems.append("text must be a string")
        elif isinstance(text, str) and len(text) > MAX_TEXT:
            problems.append(f"text is longer than {MAX_TEXT} characters")
        rules = params.get("rules")
        if rules is None:
            problems.append("rules is required")
        elif not is_reference(rules):
            try:
                parse_rules(rules)
            except ValueError as exc:
                problems.append(str(exc))
        return problems

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        problems = self.check_params(params)
        if problems:
            raise ActionFailed("; ".join(problems), code="invalid_parameters")
        text = params["text"]
        if not isinstance(text, str):
            raise ActionFailed("text must be a string", code="invalid_parameters")
        try:
            rules: ValidationRules = parse_rules(params["rules"])
        except ValueError as exc:
            raise ActionFailed(str(exc), code="invalid_parameters") from None
        http = None
        allow_private = False
        if rules.check_links:
            http = ctx.services.http()
            allow_private = ctx.services.settings().allow_private_links
        report = check_rules(
            rules, {"text": text}, http=http, allow_private=allow_private, resolve=self._resolve
        )
        return {
            "valid": not report.problems,
            "problems": report.problems,
            "toxicity": round(report.toxicity, 4),
            "length": report.length,
            "toxicTerms": report.toxic_terms,
            "links": report.links,
        }


ACTION = ValidateContent()
