"""The dashboard's security headers: one policy for CloudFront and `tidings dev`."""

from __future__ import annotations

from pathlib import Path

from infra.dashboard_headers import content_security_policy
from infra.local.api_gateway import HttpRequest
from infra.local.auth import LocalAuth
from infra.local.dashboard import DashboardSite, SignInCodes


def test_the_policy_runs_only_the_builds_own_files_and_calls_only_what_it_is_given() -> None:
    csp = content_security_policy(connect=["wss://live.example/live"], form_action=["https://signin.example"])
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["script-src"] == directives["style-src"] == directives["default-src"] == "'self'"
    assert directives["connect-src"] == "'self' wss://live.example/live"
    assert directives["form-action"] == "'self' https://signin.example"
    assert directives["object-src"] == directives["base-uri"] == directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp


def test_tidings_dev_serves_the_dashboards_files_with_the_same_headers(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>t</title>")
    site = DashboardSite(
        "http://127.0.0.1:1",
        LocalAuth(tmp_path),
        SignInCodes(tmp_path),
        dist=dist,
        live_url="ws://127.0.0.1:2",
    )
    answer = site(HttpRequest(method="GET", target="/dashboard/"), "/dashboard/")
    assert answer is not None
    assert answer.status == 200
    headers = dict(answer.headers)
    assert "connect-src 'self' ws://127.0.0.1:2;" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["strict-transport-security"].startswith("max-age=63072000; includeSubDomains")
    assert headers["referrer-policy"] == "no-referrer"
