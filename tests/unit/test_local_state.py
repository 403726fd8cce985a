"""The state directory of `tidings dev`: one stack at a time, keys made once and kept private."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.local.state import (
    LOCK_FILE,
    StateInUse,
    StateLock,
    clear_data,
    credentials_key,
    database_dir,
    running_pid,
    unsubscribe_key,
)


def test_a_second_stack_on_a_state_directory_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    first = StateLock(tmp_path)
    first.acquire()

    with pytest.raises(StateInUse, match=f"PID {os.getpid()}") as refused:
        StateLock(tmp_path).acquire()

    assert refused.value.pid == os.getpid()
    assert running_pid(tmp_path) == os.getpid()
    first.release()


def test_a_clean_stop_frees_the_directory_and_removes_the_lock_file(tmp_path: Path) -> None:
    first = StateLock(tmp_path)
    first.acquire()
    first.release()

    assert not (tmp_path / LOCK_FILE).exists()
    assert running_pid(tmp_path) is None
    again = StateLock(tmp_path)
    again.acquire()
    again.release()


def test_the_lock_file_of_a_killed_stack_does_not_hold_the_directory(tmp_path: Path) -> None:
    # A stack killed with -9 leaves its lock file behind, naming a process that is gone
    (tmp_path / LOCK_FILE).write_text("999999999\n")
    assert running_pid(tmp_path) is None

    lock = StateLock(tmp_path)
    lock.acquire()

    assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
    lock.release()


def test_keys_are_made_once_private_and_survive_a_fresh_start(tmp_path: Path) -> None:
    key_file = credentials_key(tmp_path)
    key = key_file.read_bytes()
    link_key = unsubscribe_key(tmp_path)
    database_dir(tmp_path).mkdir()
    (database_dir(tmp_path) / "shared-local-instance.db").write_bytes(b"data")

    clear_data(tmp_path)

    assert not database_dir(tmp_path).exists()
    assert credentials_key(tmp_path).read_bytes() == key
    assert unsubscribe_key(tmp_path) == link_key
    assert key_file.stat().st_mode & 0o777 == 0o600
