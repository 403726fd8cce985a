"""The dashboard's bundle budget (dashboard/scripts/budget.mjs, run by `make test`): the initial
JavaScript, gzipped, stays under 200 KB, and the check fails a bundle over it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "dashboard" / "scripts" / "budget.mjs"


def budget(dist: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(SCRIPT), str(dist)], capture_output=True, text=True, timeout=60)


def test_the_built_dashboard_is_within_its_budget() -> None:
    done = budget(ROOT / "dashboard" / "dist")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "within the 200 KB budget" in done.stdout


def test_a_bundle_over_the_budget_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(
        '<script type="module" src="./assets/app.js"></script>\n'
        '<link rel="modulepreload" href="./assets/lib.js">'
    )
    # random bytes do not compress: 150 KB each, 300 KB together
    (tmp_path / "assets" / "app.js").write_bytes(os.urandom(150 * 1024))
    (tmp_path / "assets" / "lib.js").write_bytes(os.urandom(150 * 1024))

    done = budget(tmp_path)

    assert done.returncode == 1
    assert "in 2 file(s), OVER the 200 KB budget" in done.stdout
