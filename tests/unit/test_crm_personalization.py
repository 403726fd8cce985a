"""The personalisation use-case: a template for a client of the user's CRM (read through the cache),
or with the caller's variables only; a post's texts for its client, naming the client's fields they
used."""

from __future__ import annotations

import pytest
from crm_fakes import FakeCrm, client, crm_world
from integration_fakes import USER

from tidings.core.errors import NotFound, TidingsError
from tidings.crm.personalization import Personalization, PersonalizationRequest
from tidings.scheduling.personalization import ClientContent


def setup(**properties: object) -> tuple[Personalization, FakeCrm, str]:
    crm = FakeCrm(clients={"501": client(properties={"budget": 450000, **properties})})
    world = crm_world(crm)
    integration = world.crm()
    return Personalization(world.clients, world.base.clock), crm, integration.integration_id


def test_a_template_for_a_client_uses_its_fields_style_and_the_callers_variables() -> None:
    service, _, integration = setup()
    result = service.personalize(
        USER,
        PersonalizationRequest(
            template="hey {{firstName}}, homes near ${{budget}}. thanks, {{agentName}}",
            client_id="501",
            variables={"agentName": "Sam"},
        ),
    )
    assert result.content == "Hello Maya, homes near $450,000. Thank you, Sam"
    assert result.fields == ["budget", "firstName"]
    assert result.client_id == "501"
    assert result.integration is not None
    assert result.integration.integration_id == integration
    assert (result.style, result.language) == ("formal", "en")


def test_a_callers_variable_of_the_same_name_is_not_counted_as_the_clients() -> None:
    service, _, _ = setup()
    result = service.personalize(
        USER,
        PersonalizationRequest(
            template="{{firstName}} {{lastName}}", client_id="501", variables={"firstName": "M."}
        ),
    )
    assert result.content == "M. Okafor"
    assert result.fields == ["lastName"]


def test_without_a_client_only_the_callers_variables_render_and_no_crm_is_asked() -> None:
    service, crm, _ = setup()
    result = service.personalize(
        USER, PersonalizationRequest(template="Hi {{name}}", variables={"name": "Ann"})
    )
    assert (result.content, result.client_id, result.integration, result.fields) == ("Hi Ann", None, None, [])
    assert crm.reads == []


def test_fallbacks_are_reported_as_missing_and_not_as_client_fields() -> None:
    service, _, _ = setup()
    result = service.personalize(
        USER,
        PersonalizationRequest(
            template="{{firstName}} ({{nickname}})", client_id="501", fallbacks={"nickname": "friend"}
        ),
    )
    assert result.content == "Maya (friend)"
    assert result.missing == ["nickname"]
    assert result.fields == ["firstName"]


def test_an_unknown_client_and_a_missing_variable_are_clear_errors() -> None:
    service, _, _ = setup()
    with pytest.raises(NotFound) as unknown:
        service.personalize(USER, PersonalizationRequest(template="Hi", client_id="999"))
    assert unknown.value.code == "client_not_found"
    with pytest.raises(TidingsError) as missing:
        service.personalize(USER, PersonalizationRequest(template="Hi {{nickname}}", client_id="501"))
    assert (missing.value.status, missing.value.code) == (422, "missing_variables")
    assert missing.value.details["missing"] == ["nickname"]


def test_a_posts_texts_are_rendered_once_per_client_read_and_name_the_fields_used() -> None:
    service, crm, integration = setup()
    done = service.personalize_texts(
        USER,
        ClientContent(client_id="501"),
        ["{{firstName}}, a home at ${{budget}} just listed", "Call me, {{firstName}}"],
        "image",
    )
    assert done.texts == ["Maya, a home at $450,000 just listed", "Call me, Maya"]
    assert done.personalization.fields == ["budget", "firstName"]
    assert (done.personalization.client_id, done.personalization.integration_id) == ("501", integration)
    assert done.personalization.provider == "hubspot"
    assert len(crm.reads) == 1
