"""Write the API's OpenAPI document to a file: `python -m infra.local.openapi OUT`.

The dashboard's API client is typed from it (dashboard/src/api/schema.d.ts is generated from this
document at build time), so a field the app reads that the API no longer has fails the build.
Building the routes builds no service: each of build_app's factories is left uncalled.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import NoReturn


def _never() -> NoReturn:
    raise AssertionError("documenting the routes must not build any service")


def openapi_document() -> str:
    from tidings.api.app import build_app

    factories = {name: _never for name in inspect.signature(build_app).parameters}
    document: str = build_app(**factories).get_openapi_json_schema()
    return document


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.local.openapi OUT", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(openapi_document() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
