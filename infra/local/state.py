"""What `tidings dev` keeps in its state directory (`.tidings/` by default), so a stopped or crashed
stack starts again with everything it had:

    dynamodb/                  DynamoDB Local's database file (the table and its stream)
    credentials-key.json       the key material of the local KMS key that seals credentials (0600)
    unsubscribe-key            the key campaign unsubscribe links are signed with (0600)
    jwt-signing-key.pem        the key local access tokens are signed with (0600, infra/local/auth.py)
    stream-checkpoints.json    how far each stream consumer has read the table's stream
    reconcile.json             what the last start rebuilt from the table
    stack.json                 the running stack's endpoints and pids (removed on a clean stop)
    tidings.lock               the PID of the `tidings dev` using the directory

`--fresh` removes the data (the database, the checkpoints, the last reconcile) and keeps the keys:
with an empty table no credential needs them, and tokens printed before stay valid.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

DATABASE_DIR = "dynamodb"
CREDENTIALS_KEY_FILE = "credentials-key.json"
UNSUBSCRIBE_KEY_FILE = "unsubscribe-key"
CHECKPOINTS_FILE = "stream-checkpoints.json"
RECONCILE_FILE = "reconcile.json"
# What `--fresh` removes; the keys stay.
DATA = (DATABASE_DIR, CHECKPOINTS_FILE, RECONCILE_FILE)


def secret_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of `path`, written first from `make()` (mode 0600) if absent; when two processes
    race, the first one's content is everyone's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(make())
            # link() fails if another process got there first; then its content is the content.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_bytes()


def credentials_key(state_dir: Path) -> Path:
    """The file holding the local credentials key: its id and 256 bits of key material, made once.

    moto's KMS keeps its keys in memory; the moto server loads this key at start (with the same id,
    so the ARN stored with every sealed credential still names it), and what was sealed before a
    restart opens after it."""
    path = state_dir / CREDENTIALS_KEY_FILE

    def make() -> bytes:
        key = {"keyId": str(uuid.uuid4()), "material": base64.b64encode(secrets.token_bytes(32)).decode()}
        return json.dumps(key).encode()

    secret_file(path, make)
    return path


def unsubscribe_key(state_dir: Path) -> str:
    """The key of campaign unsubscribe links, made once: links in email sent before a restart work."""
    return secret_file(state_dir / UNSUBSCRIBE_KEY_FILE, lambda: secrets.token_urlsafe(48).encode()).decode()


def database_dir(state_dir: Path) -> Path:
    return state_dir / DATABASE_DIR


def clear_data(state_dir: Path) -> None:
    """`--fresh`: forget the table, the stream checkpoints and the last reconcile."""
    for name in DATA:
        path = state_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def write_json(path: Path, data: Any) -> None:
    """Replace `path` with `data` as JSON in one step (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    """`path` as JSON; None when it is absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
