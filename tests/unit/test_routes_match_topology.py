"""The routes API Gateway is given (infra/topology.py) and the routes the API app serves are declared
in two places; they must be the same set, or a route would 404 at the gateway or never be reached."""

from __future__ import annotations

import inspect
from typing import Any, NoReturn

from infra.topology import ROUTES
from tidings.api.app import build_app


def _never() -> NoReturn:
    raise AssertionError("building the routes must not build any service")


def served_routes() -> set[str]:
    """Every route of the app with every capability given (a factory for each of build_app's
    parameters, none of them called)."""
    factories: dict[str, Any] = {name: _never for name in inspect.signature(build_app).parameters}
    app = build_app(**factories)
    routes = app._static_routes + app._dynamic_routes  # Powertools keeps no public list
    return {f"{route.method} {route.openapi_path}" for route in routes}


def test_the_gateway_routes_and_the_app_routes_are_the_same_set() -> None:
    declared = {route.route_key for route in ROUTES}
    served = served_routes()

    assert declared - served == set(), "declared for the gateway but served by no route of the app"
    assert served - declared == set(), "served by the app but unreachable through the gateway"


def test_every_route_goes_to_the_http_api_function_once() -> None:
    keys = [route.route_key for route in ROUTES]

    assert len(keys) == len(set(keys))
    assert {route.function for route in ROUTES} == {"http_api"}
