"""`tidings dev --fake-url URL`: the stack uses a fake platform server that runs already instead of
starting one, and says so at once when nothing answers there."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.dev import DevOptions, DevRuntime
from infra.local.fakes.platforms import FakePlatformServer
from infra.local.processes import StartupError, free_port


def _runtime(tmp_path: Path, **options: object) -> DevRuntime:
    return DevRuntime(DevOptions(state_dir=tmp_path, **options))  # type: ignore[arg-type]


def test_without_it_the_stack_starts_its_own_fake_with_the_platform_faults(tmp_path: Path) -> None:
    child = _runtime(tmp_path, sandbox_seed=7)._fake_child("facebook:error500:0.3", "secret", None)

    assert child is not None
    assert child.argv[-4:] == ["--faults", "facebook:error500:0.3", "--seed", "7"]


def test_with_it_no_fake_is_started_and_the_running_one_is_used(tmp_path: Path) -> None:
    with FakePlatformServer() as fake:
        runtime = _runtime(tmp_path, fake_url=fake.url + "/")

        assert runtime._fake_child("", "secret", None) is None
        assert runtime._fake_platforms_url() == fake.url


def test_platform_faults_are_refused_with_it_they_belong_to_that_server(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, fake_url="http://127.0.0.1:8900", sandbox_faults="x:error500:0.5")

    with pytest.raises(StartupError, match="with --fake-url, set the platform faults on that server"):
        runtime._fake_child("x:error500:0.5", "secret", None)


def test_a_url_where_nothing_answers_stops_the_start_with_the_reason(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(StartupError, match=f"--fake-url {url}: no fake platform server answers there"):
        _runtime(tmp_path, fake_url=url)._fake_platforms_url()
