"""cfn-lint on the synthesised template: no errors, and no warning outside a short, explained list."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from synthesis import Synth

CFN_LINT = Path(sys.executable).parent / "cfn-lint"

# Warnings that come from CDK itself, not from how this stack is written.
ACCEPTED_WARNINGS = {
    # CDK makes a Function DependsOn its role and role policy although it already references the
    # role, so that the policy exists before the function is created.
    "W3005",
}


def lint(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(CFN_LINT), "--format", "json", str(path)], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip(), result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def _describe(findings: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{f['Level']} {f['Rule']['Id']} {'/'.join(map(str, f['Location']['Path']))}: {f['Message']}"
        for f in findings
    )


def test_template_has_no_cfn_lint_errors(synth: Synth) -> None:
    findings = lint(synth.template_path)

    errors = [f for f in findings if f["Level"] == "Error"]
    assert not errors, _describe(errors)
    unexpected = [f for f in findings if f["Level"] == "Warning" and f["Rule"]["Id"] not in ACCEPTED_WARNINGS]
    assert not unexpected, _describe(unexpected)


def test_cfn_lint_does_report_a_broken_template(tmp_path: Path) -> None:
    broken = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Runtime": "python9.9", "Handler": "h.h", "Code": {"ZipFile": "x"}},
            }
        }
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))

    errors = [f for f in lint(path) if f["Level"] == "Error"]

    assert errors, "cfn-lint let a function without a role and with an unknown runtime through"
