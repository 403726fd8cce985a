"""The infra tier: one synth of the real stack per session, shared by every test.

The stack is built exactly as `cdk synth` builds it (infra.stack.build, with cdk.json's feature
flags), into a temporary cloud assembly; its wall time is printed in the test summary.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.stack import TidingsStack, build

ROOT = Path(__file__).resolve().parents[2]
_SYNTH_SECONDS = pytest.StashKey[float]()


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


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    started = time.perf_counter()
    app = App(outdir=str(outdir), context=cdk_context())
    stack = build(app)
    app.synth()
    template = Template.from_stack(stack)
    request.config.stash[_SYNTH_SECONDS] = time.perf_counter() - started
    return Synth(app=app, stack=stack, template=template, outdir=outdir)


@pytest.fixture(scope="session")
def template(synth: Synth) -> dict[str, Any]:
    return synth.json


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    seconds = config.stash.get(_SYNTH_SECONDS, None)
    if seconds is not None:
        terminalreporter.write_line(f"infra: stack synthesised once in {seconds:.1f} s")
