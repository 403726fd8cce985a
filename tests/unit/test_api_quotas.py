"""Through the API: integrations, scheduled tasks and running workflows past their quota are answered
409 quota_exceeded naming the quota and its limit, a refused request leaves nothing behind, and
removing or finishing one frees its place, while other users go on."""

from __future__ import annotations

import json
from typing import Any

from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from integration_fakes import TOKEN, world

from tidings.api.app import build_app
from tidings.api.integrations import IntegrationServices


def _no_posts() -> Any:
    raise AssertionError("no post route is called here")


def quota_refusal(answer: tuple[int, dict[str, Any]]) -> tuple[int, str, dict[str, Any]]:
    status, body = answer
    return status, body.get("code", ""), body.get("details", {})


def integrations_app(quota: int) -> APIGatewayHttpResolver:
    w = world(quota=quota)
    services = IntegrationServices(w.lifecycle, w.syncing, w.monitoring)
    return build_app(_no_posts, integrations=lambda: services)


def new_integration(n: int) -> str:
    credentials = {"accessToken": TOKEN}
    return json.dumps({"name": f"CRM {n}", "type": "crm", "platform": "hubspot", "credentials": credentials})


def test_an_integration_past_the_quota_is_refused_naming_it_and_a_deletion_frees_one() -> None:
    app = integrations_app(quota=2)
    made = [call(app, "POST", "/integrations", body=new_integration(n)) for n in range(2)]
    refused = call(app, "POST", "/integrations", body=new_integration(2))

    assert [status for status, _ in made] == [201, 201]
    assert quota_refusal(refused) == (409, "quota_exceeded", {"quota": "integrations", "limit": 2})
    listed = call(app, "GET", "/integrations")[1]["integrations"]
    assert sorted(i["name"] for i in listed) == ["CRM 0", "CRM 1"]
    gone = made[0][1]["integrationId"]
    assert call(app, "DELETE", f"/integrations/{gone}", path_parameters={"integrationId": gone})[0] == 200
    assert call(app, "POST", "/integrations", body=new_integration(3))[0] == 201
    assert call(app, "POST", "/integrations", body=new_integration(4), user="u2")[0] == 201
