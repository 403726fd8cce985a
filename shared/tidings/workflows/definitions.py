"""Workflow definitions: steps, their dependencies, retries, timeouts, gates and the references
between them -- and the checks that refuse a definition that could never run.

A definition (camelCase JSON):

    {"name": "...", "steps": [
        {"id": "draft", "action": "generate_content",
         "parameters": {"topic": "${parameters.topic}", "platform": "${parameters.platform}"},
         "dependsOn": [], "optional": false,
         "retry": {"attempts": 3, "initialIntervalSeconds": 30, "backoffRate": 2},
         "timeoutSeconds": 900,
         "gates": [{"type": "validation", "rules": {"maxLength": 280}, "maxFixAttempts": 2},
                   {"type": "approval"}]},
        {"id": "schedule", "action": "schedule_post", "dependsOn": ["draft"],
         "parameters": {"content": "${steps.draft.output.text}"}}]}

A reference is `${parameters.<name>}` or `${steps.<stepId>.output.<path>}`; a string that is exactly
one reference takes the referenced value as it is (a number stays a number), and references inside
a longer string are replaced by their text. References are looked up, never evaluated: nothing in a
definition runs as code. A step may only reference steps it depends on, directly or not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from tidings.core.errors import ValidationFailed

MAX_STEPS = 50
_REF = re.compile(r"\$\{([^}]*)\}")
_STEP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class RetryPolicy(_Model):
    attempts: int = Field(default=1, ge=1, le=10, description="Runs in all, the first included")
    initial_interval_seconds: float = Field(default=30, ge=0, le=86_400)
    backoff_rate: float = Field(default=2.0, ge=1.0, le=10.0)

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before run number `attempt` (2, 3, ...)."""
        return float(self.initial_interval_seconds * self.backoff_rate ** max(0, attempt - 2))


class StepDefinition(_Model):
    id: str
    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list, max_length=MAX_STEPS)
    optional: bool = False
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_seconds: int = Field(default=900, ge=1, le=7 * 86_400)
    gates: list[dict[str, Any]] = Field(default_factory=list, max_length=10)


class WorkflowDefinition(_Model):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    steps: list[StepDefinition] = Field(min_length=1, max_length=MAX_STEPS)

    def step(self, step_id: str) -> StepDefinition:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def parse_definition(raw: Any) -> WorkflowDefinition:
    """The definition, or ValidationFailed (422) listing every problem found."""
    try:
        definition = WorkflowDefinition.model_validate(raw)
    except ValidationError as exc:
        problems = [
            {"location": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        raise ValidationFailed(
            "the workflow definition is not valid", {"problems": problems}, code="invalid_definition"
        ) from None
    return definition


def check_definition(
    definition: WorkflowDefinition,
    parameters: Mapping[str, Any],
    actions: Mapping[str, Any],
    check_gate: Any = None,
) -> None:
    """Refuse (422) a definition with a duplicate or malformed step id, an unknown dependency, a
    cycle, an unknown action, a reference that cannot resolve, bad action parameters or a bad gate.
    `actions` maps action names to Action objects (with check_params); `check_gate(gate) -> [str]`."""
    ids = [s.id for s in definition.steps]
    problems: list[dict[str, Any]] = [
        {"step": step_id, "code": "duplicate_step", "message": f"step id {step_id!r} is used twice"}
        for step_id in sorted({i for i in ids if ids.count(i) > 1})
    ]
    for step in definition.steps:
        problems += _step_problems(step, ids, actions, check_gate)
    cycle = find_cycle(definition)
    if cycle:
        problems.append(
            {"code": "cycle", "message": "the steps depend on each other in a cycle", "cycle": cycle}
        )
    else:
        ancestors = _ancestors(definition)
        for step in definition.steps:
            for ref in references(step.parameters):
                message = _reference_problem(ref, step.id, ancestors.get(step.id, set()), ids, parameters)
                if message:
                    problems.append(
                        {"step": step.id, "code": "bad_reference", "reference": ref, "message": message}
                    )
    if problems:
        raise ValidationFailed(
            f"the workflow definition has {len(problems)} problem(s)",
            {"problems": problems},
            code="invalid_definition",
        )


def _step_problems(
    step: StepDefinition, ids: list[str], actions: Mapping[str, Any], check_gate: Any
) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    if not _STEP_ID.match(step.id):
        problems.append(
            {
                "step": step.id,
                "code": "invalid_step_id",
                "message": "a step id is a letter, then letters, digits, - or _",
            }
        )
    for dep in step.depends_on:
        if dep not in ids:
            problems.append(
                {"step": step.id, "code": "unknown_dependency", "message": f"depends on unknown step {dep!r}"}
            )
        elif dep == step.id:
            problems.append({"step": step.id, "code": "cycle", "message": "a step cannot depend on itself"})
    action = actions.get(step.action)
    if action is None:
        problems.append(
            {
                "step": step.id,
                "code": "unknown_action",
                "message": f"unknown action {step.action!r}",
                "supported": sorted(actions),
            }
        )
    else:
        problems += [
            {"step": step.id, "code": "invalid_parameters", "message": m}
            for m in action.check_params(step.parameters)
        ]
    if check_gate is not None:
        for gate in step.gates:
            problems += [{"step": step.id, "code": "invalid_gate", "message": m} for m in check_gate(gate)]
    return problems


def find_cycle(definition: WorkflowDefinition) -> list[str]:
    """One dependency cycle as a list of step ids (first repeated at the end), or []."""
    deps = {s.id: [d for d in s.depends_on if d != s.id] for s in definition.steps}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, []):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in deps:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _ancestors(definition: WorkflowDefinition) -> dict[str, set[str]]:
    deps = {s.id: set(s.depends_on) for s in definition.steps}
    memo: dict[str, set[str]] = {}

    def of(node: str) -> set[str]:
        if node not in memo:
            memo[node] = set()
            out: set[str] = set()
            for dep in deps.get(node, set()):
                out |= {dep, *of(dep)}
            memo[node] = out
        return memo[node]

    return {node: of(node) for node in deps}


def references(value: Any) -> list[str]:
    """Every `${...}` reference in a parameter value (nested lists and objects included)."""
    if isinstance(value, str):
        return _REF.findall(value)
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def _reference_problem(
    ref: str, step_id: str, ancestors: set[str], ids: list[str], parameters: Mapping[str, Any]
) -> str | None:
    parts = ref.split(".")
    if parts[0] == "parameters":
        if len(parts) < 2 or not parts[1]:
            return "name a parameter: ${parameters.<name>}"
        if parts[1] not in parameters:
            return f"no parameter {parts[1]!r} was given"
        return None
    if parts[0] == "steps":
        if len(parts) < 3 or parts[2] != "output":
            return "a step reference reads its output: ${steps.<stepId>.output[.<path>]}"
        if parts[1] not in ids:
            return f"no step {parts[1]!r}"
        if parts[1] not in ancestors:
            return f"step {parts[1]!r} is not one {step_id!r} depends on, so its output may not exist yet"
        return None
    return "a reference starts with parameters. or steps."


class UnresolvedReference(Exception):
    pass


def resolve(value: Any, parameters: Mapping[str, Any], outputs: Mapping[str, Any]) -> Any:
    """`value` with its references replaced (see the module doc). Raises UnresolvedReference."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), parameters, outputs)
        return _REF.sub(lambda m: _as_text(_lookup(m.group(1), parameters, outputs)), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, parameters, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, parameters, outputs) for v in value]
    return value


def _lookup(ref: str, parameters: Mapping[str, Any], outputs: Mapping[str, Any]) -> Any:
    parts = ref.split(".")
    if parts[0] == "parameters" and len(parts) >= 2:
        current: Any = parameters
        path = parts[1:]
    elif parts[0] == "steps" and len(parts) >= 3 and parts[2] == "output":
        if parts[1] not in outputs:
            raise UnresolvedReference(f"step {parts[1]!r} has no output")
        current = outputs[parts[1]]
        path = parts[3:]
    else:
        raise UnresolvedReference(f"not a reference: {ref!r}")
    for part in path:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise UnresolvedReference(f"${{{ref}}}: nothing at {part!r}")
    return current


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, separators=(",", ":"))


def get_path(data: Any, path: str) -> Any:
    """A dotted path into a JSON value, or None."""
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current
