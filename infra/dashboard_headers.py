"""The dashboard's security headers, in one place: CloudFront's response headers policy
(infra/constructs/dashboard_hosting.py) and `tidings dev` (infra/local/dashboard.py) send the same ones,
so the browser tests run the app under the policy it has on AWS.

The Content-Security-Policy lets the page run only the build's own files: scripts and stylesheets from
its origin (no inline script or `<style>`, no eval), no plugin, no `<base>`, no framing; it may call
only its origin, the API, the live WebSocket and the sign-in's token endpoint, and show images from
itself, `data:` and any https URL (a post's media). The values with a stack's addresses are
CloudFormation tokens on AWS: this module only joins strings.
"""

from __future__ import annotations

from collections.abc import Sequence

HSTS_SECONDS = 2 * 365 * 24 * 3600  # two years: browsers remember the dashboard is https-only
REFERRER_POLICY = "no-referrer"  # the sign-in returns with ?code= in the URL: never send it on


def content_security_policy(*, connect: Sequence[str] = (), form_action: Sequence[str] = ()) -> str:
    """The policy: `connect` the origins the app calls beside its own (API, wss:// live updates, the
    sign-in's token endpoint), `form_action` where a form may go beside the page (the sign-in)."""
    directives: list[tuple[str, Sequence[str]]] = [
        ("default-src", ["'self'"]),
        ("script-src", ["'self'"]),
        ("style-src", ["'self'"]),
        ("img-src", ["'self'", "data:", "https:"]),
        ("font-src", ["'self'"]),
        ("connect-src", ["'self'", *connect]),
        ("object-src", ["'none'"]),
        ("base-uri", ["'none'"]),
        ("frame-ancestors", ["'none'"]),
        ("form-action", ["'self'", *form_action]),
    ]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives)


def security_headers(csp: str) -> list[tuple[str, str]]:
    """Every header, as `tidings dev` sends them with each of the dashboard's files (CloudFront's
    policy sets the same from HSTS_SECONDS, REFERRER_POLICY and `csp`)."""
    return [
        ("content-security-policy", csp),
        ("strict-transport-security", f"max-age={HSTS_SECONDS}; includeSubDomains"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", REFERRER_POLICY),
    ]
