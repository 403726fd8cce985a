"""A post written for one client: its text is rendered from the client's CRM record before the post
is stored, and the stored post says which client and which of the client's fields it used.

The scheduler only knows this interface; the CRM capability implements it (`tidings.crm.posts`) and
the composition root hands it in, so scheduling never depends on the CRM package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tidings.models.posts import PostPersonalization


@dataclass(frozen=True)
class ClientContent:
    """The client a post is for, and the caller's own template values."""

    client_id: str
    integration_id: str | None = None  # the user's default CRM when None
    variables: Mapping[str, Any] = field(default_factory=dict)
    fallbacks: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonalizedTexts:
    texts: list[str]  # the rendered texts, in the order given
    personalization: PostPersonalization


class PostPersonalizer(Protocol):
    def personalize_texts(
        self, user_id: str, client: ClientContent, texts: Sequence[str], content_type: str | None
    ) -> PersonalizedTexts:
        """Render each text as a template for the client. Raises TidingsError (404 client_not_found,
        422 missing_variables, 503 crm_unavailable...) when it cannot."""
        ...
