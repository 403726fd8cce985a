"""Connect a user's accounts on the fake platform server, in both places that must agree: the fake
(which checks tokens like the real platforms) and Tidings' account store (sealed with KMS).

Used by `tidings dev` for the sample user and by `tidings connect USER_ID` for any other user. The
process must already have the local stack's environment (endpoints, table name).
"""

from __future__ import annotations

import hashlib
import secrets

import httpx

from tidings.core.platforms import Platform
from tidings.wiring import account_store


def sandbox_account_id(platform: Platform, user_id: str) -> str:
    """A plausible account id of the platform's documented form for a sandbox user."""
    seed = hashlib.sha256(f"{platform.value}:{user_id}".encode()).hexdigest()
    digits = str(int(seed[:15], 16) % 10**15).rjust(15, "1")
    return {
        Platform.FACEBOOK: digits,  # Page id
        Platform.INSTAGRAM: "178" + digits[:14],  # IG user id
        Platform.TWITTER: digits[:12],  # X user id
        Platform.LINKEDIN: f"urn:li:person:{digits[:10]}",  # person URN
        Platform.YOUTUBE: f"UC{digits}{digits[:7]}",  # channel id
        Platform.TIKTOK: f"open-{digits}",  # open id
    }[platform]


def connect_sandbox_accounts(
    fake_url: str, user_id: str, platforms: tuple[Platform, ...] = tuple(Platform)
) -> dict[Platform, str]:
    connected: dict[Platform, str] = {}
    with httpx.Client(timeout=10) as http:
        for platform in platforms:
            account_id = sandbox_account_id(platform, user_id)
            token = f"sandbox-{platform.value}-{secrets.token_urlsafe(16)}"
            resp = http.post(
                f"{fake_url}/_accounts",
                json={"platform": platform.value, "accountId": account_id, "accessToken": token},
            )
            resp.raise_for_status()
            account_store().connect(user_id, platform, account_id, token)
            connected[platform] = account_id
    return connected


def restore_sandbox_accounts(fake_url: str) -> int:
    """Tell a (re)started fake platform server every account Tidings has connected: the fake keeps its
    tokens in memory, the account store keeps them sealed in the table. Each token is opened with the
    state directory's credentials key, so this also proves what was sealed before a restart opens.
    The number of accounts restored."""
    from tidings.core.config import get_settings
    from tidings.store.dynamo import deserialize
    from tidings.store.keys import ACCOUNT_ENTITY
    from tidings.store.restart import scan_entities

    store = account_store()
    restored = 0
    with httpx.Client(timeout=10) as http:
        for raw in scan_entities(get_settings().table_name, (ACCOUNT_ENTITY,)):
            item = deserialize(raw)
            credentials = store.credentials(str(item["user_id"]), str(item["platform"]))
            if credentials is None:
                continue
            resp = http.post(
                f"{fake_url}/_accounts",
                json={
                    "platform": str(credentials.platform),
                    "accountId": credentials.account_id,
                    "accessToken": credentials.access_token,
                },
            )
            resp.raise_for_status()
            restored += 1
    return restored
