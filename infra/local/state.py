"""What `tidings dev` keeps in its state directory (`.tidings/` by default), so a stopped or crashed
stack starts again with everything it had:

    dynamodb/                  DynamoDB Local's database file (the table and its stream)
    credentials-key.json       the key material of the local KMS key that seals credentials (0600)
    unsubscribe-key            the key campaign unsubscribe links are signed with (0600)
    jwt-signing-key.pem        the key local access tokens are signed with (0600, infra/local/auth.py)
    stream-checkpoints.json    how far each stream consumer has read the table's stream
    reconcile.json             what the last start rebuilt from the table
    stack.json                 the running stack's endpoints and pids (removed on a clean stop)
    tidings.lock               the PID of the `tidings dev` using the directory (locked while it runs)

`--fresh` removes the data (the database, the checkpoints, the last reconcile) and keeps the keys:
with an empty table no credential needs them, and tokens printed before stay valid.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
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
LOCK_FILE = "tidings.lock"
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


class StateInUse(Exception):
    """Another running `tidings dev` holds the state directory."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        who = f"PID {pid}" if pid else "a process"
        super().__init__(
            f"another tidings dev ({who}) is using the state directory {state_dir}; stop it first, "
            "or pass another --state-dir"
        )
        self.pid = pid


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class StateLock:
    """`tidings.lock`: an exclusive lock (flock, so a killed holder's lock goes with it) on a file that
    names the holder's PID. Released, and the file removed, by `release` on a clean stop."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; StateInUse (naming the holder's PID) if a running stack has it."""
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateInUse(self.state_dir, _pid_in(self.path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def running_pid(state_dir: Path) -> int | None:
    """The PID of the `tidings dev` using `state_dir`, if it is alive."""
    from infra.local.processes import pid_alive

    pid = _pid_in(state_dir / LOCK_FILE)
    return pid if pid is not None and pid_alive(pid) else None
