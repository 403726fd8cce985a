"""Synthesising the real stack for tests, as `cdk synth` does (cdk.json's context, CLI metadata)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.stack import TidingsStack, build

ROOT = Path(__file__).resolve().parents[2]


def cdk_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    # What the CDK CLI adds: construct paths and asset paths in each resource's metadata.
    return {**context, "aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


@dataclass(frozen=True)
class Synth:
    app: App
    stack: TidingsStack
    template: Template
    outdir: Path

    @property
    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = self.template.to_json()
        return result

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack.artifact_id}.template.json"


def synthesise(outdir: Path) -> Synth:
    app = App(outdir=str(outdir), context=cdk_context())
    stack = build(app)
    app.synth()
    return Synth(app=app, stack=stack, template=Template.from_stack(stack), outdir=outdir)
