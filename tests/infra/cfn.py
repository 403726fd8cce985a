"""Small readers over a synthesised CloudFormation template (a plain dict)."""

from __future__ import annotations

import json
from typing import Any

from infra.constructs.constants import construct_id

Template = dict[str, Any]


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in template["Resources"].items() if res["Type"] == type_}


def only(template: Template, type_: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def by_path(template: Template, path: str) -> tuple[str, dict[str, Any]]:
    """The resource whose construct path (aws:cdk:path) is Tidings/<path>."""
    wanted = f"Tidings/{path}"
    for lid, res in template["Resources"].items():
        if res.get("Metadata", {}).get("aws:cdk:path") == wanted:
            return lid, res
    raise KeyError(wanted)


def project_layer(template: Template) -> tuple[str, dict[str, Any]]:
    """The project's own layer (the stack's Layer construct; CDK's BucketDeployment brings an AWS CLI one)."""
    return by_path(template, "Layer/Layer/Resource")


def project_functions(template: Template) -> dict[str, dict[str, Any]]:
    """The topology's functions: those under Functions/ (not CDK's own custom resource handlers)."""
    prefix = "Tidings/Functions/"
    return {
        lid: res
        for lid, res in resources(template, "AWS::Lambda::Function").items()
        if res.get("Metadata", {}).get("aws:cdk:path", "").startswith(prefix)
    }


def function(template: Template, name: str) -> tuple[str, dict[str, Any]]:
    return by_path(template, f"Functions/{construct_id(name)}/Function/Resource")


def role_of_function(template: Template, name: str) -> str:
    return by_path(template, f"Functions/{construct_id(name)}/Role/Resource")[0]


def ref(value: Any) -> str | None:
    """The logical id a Ref / Fn::GetAtt points at, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def render(value: Any) -> str:
    """A readable string for a CloudFormation value: Ref -> <Id>, GetAtt -> <Id.Attr>, Joins joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(render(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of_role(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy attached to the role."""
    found: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if any(ref(r) == role_id for r in policy["Properties"].get("Roles", [])):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    role = template["Resources"][role_id]
    for policy in role["Properties"].get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    return found


def allowed(template: Template, role_id: str) -> dict[str, set[str]]:
    """action -> the resources (rendered) the role may do it on."""
    grants: dict[str, set[str]] = {}
    for statement in statements_of_role(template, role_id):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            grants.setdefault(action, set()).update(render(r) for r in as_list(statement["Resource"]))
    return grants
