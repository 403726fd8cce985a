"""Workflow definitions: every way a definition can never run is refused with its reason, and
references resolve to values without evaluating anything."""

from __future__ import annotations

from typing import Any

import pytest

from tidings.core.errors import ValidationFailed
from tidings.workflows.definitions import (
    RetryPolicy,
    UnresolvedReference,
    check_definition,
    find_cycle,
    parse_definition,
    resolve,
)


class Anything:
    name = "anything"

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return ["bad is not allowed"] if "bad" in params else []


ACTIONS = {"anything": Anything()}


def step(step_id: str, deps: list[str] | None = None, **params: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "anything", "dependsOn": deps or [], "parameters": params}


def problems(steps: list[dict[str, Any]], parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as info:
        check_definition(parse_definition({"name": "w", "steps": steps}), parameters or {}, ACTIONS)
    assert info.value.status == 422
    assert info.value.code == "invalid_definition"
    return list(info.value.details["problems"])


def test_a_sound_definition_passes() -> None:
    definition = parse_definition(
        {
            "name": "w",
            "steps": [
                step("a", topic="${parameters.topic}"),
                step("b", ["a"], text="${steps.a.output.text}"),
            ],
        }
    )
    check_definition(definition, {"topic": "x"}, ACTIONS)


def test_a_cycle_is_named() -> None:
    found = problems([step("a", ["c"]), step("b", ["a"]), step("c", ["b"])])
    (cycle,) = [p for p in found if p["code"] == "cycle"]
    assert cycle["cycle"][0] == cycle["cycle"][-1]
    assert set(cycle["cycle"]) == {"a", "b", "c"}


def test_unknown_dependency_action_and_duplicate_ids_are_each_reported() -> None:
    found = problems([step("a", ["nope"]), {"id": "b", "action": "teleport"}, step("a")])
    assert {p["code"] for p in found} == {"unknown_dependency", "unknown_action", "duplicate_step"}


def test_references_must_name_given_parameters_and_ancestor_steps() -> None:
    found = problems(
        [
            step("a", text="${parameters.missing}"),
            step("b", text="${steps.c.output.text}"),  # c is not an ancestor of b
            step("c", ["a"], text="${steps.zzz.output}"),
            step("d", ["a"], text="${env.HOME}"),
        ]
    )
    assert [p["code"] for p in found] == ["bad_reference"] * 4
    assert "no parameter 'missing'" in found[0]["message"]


def test_action_parameter_problems_and_schema_errors_are_reported() -> None:
    assert problems([step("a", bad=1)])[0]["code"] == "invalid_parameters"
    with pytest.raises(ValidationFailed) as info:
        parse_definition({"name": "w", "steps": [{"id": "a"}]})
    assert info.value.code == "invalid_definition"
    with pytest.raises(ValidationFailed):
        parse_definition({"name": "w", "steps": [], "extra": True})


def test_resolve_keeps_types_and_interpolates_text_without_evaluating() -> None:
    outputs = {"a": {"text": "Hi", "count": 3, "items": [{"url": "u1"}]}}
    params = {"name": "Ann", "expr": "${steps.a.output.count}"}
    assert resolve("${steps.a.output.count}", params, outputs) == 3
    assert resolve("${steps.a.output.items.0.url}", params, outputs) == "u1"
    assert resolve("Dear ${parameters.name}: ${steps.a.output.text}", params, outputs) == "Dear Ann: Hi"
    assert resolve({"x": ["${parameters.name}"]}, params, outputs) == {"x": ["Ann"]}
    # a parameter whose value looks like a reference is data, not a second lookup
    assert resolve("${parameters.expr}", params, outputs) == "${steps.a.output.count}"
    assert resolve("__import__('os')", params, outputs) == "__import__('os')"
    with pytest.raises(UnresolvedReference):
        resolve("${steps.b.output}", params, outputs)


def test_retry_backoff_grows_by_its_rate() -> None:
    policy = RetryPolicy(attempts=4, initial_interval_seconds=5, backoff_rate=3)
    assert [policy.wait_before(n) for n in (2, 3, 4)] == [5, 15, 45]


def test_find_cycle_is_empty_for_a_dag() -> None:
    assert find_cycle(parse_definition({"name": "w", "steps": [step("a"), step("b", ["a"])]})) == []


def test_template_expressions_are_never_evaluated() -> None:
    found = problems([step("a", text="${7*7}"), step("b", text="${__import__('os').system('id')}")])
    assert [p["code"] for p in found] == ["bad_reference", "bad_reference"]
    # in a parameter's value, text that looks like code stays text
    params = {"topic": "{{7*7}} ${7*7} __import__('os')"}
    assert resolve("Topic: ${parameters.topic}", params, {}) == "Topic: {{7*7}} ${7*7} __import__('os')"
