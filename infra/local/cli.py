"""The `tidings` command: the local runtime.

    tidings dev [--port 3000] [--host 127.0.0.1] [--sandbox-faults SPEC] [--sandbox-seed N]
                [--demo] [--state-dir .tidings] [--fresh] [--missed-after SECONDS]
                [--sweep-interval SECONDS]
                [--sync-interval SECONDS] [--analytics-interval SECONDS]
                [--crm-retry-interval SECONDS] [--fake-url URL] [--verbose]
    tidings token USER_ID [--ttl SECONDS] [--state-dir .tidings]
    tidings login USER_ID [--state-dir .tidings]
    tidings connect USER_ID [--state-dir .tidings]
    tidings invoke FUNCTION EVENT_FILE [--state-dir .tidings]
    tidings status [--state-dir .tidings]

`tidings dev` keeps its data in the state directory (DynamoDB Local's database, the keys that open
stored credentials, the stream consumers' positions), so stopping and starting it loses nothing;
`--fresh` starts with no data.

`tidings dev` prints, each on a line of its own, `API: <url>`, `API docs: <url>/docs`,
`dashboard: <url>` (a single-use sign-in link for the sample user; `tidings login USER` prints one
for any user of the running stack),
`fake platforms: <url>`, `fake CRMs and analytics: <url>`, `emails: <url>` (GET: every email the stack
sent), `token (demo-agent): <jwt>`, a curl
command scheduling a post, and finally `ready`. Ctrl-C (or SIGTERM) stops everything it started; a
second Ctrl-C forces the stop. One stack at a time uses a state directory: another `tidings dev` on
it refuses to start and names the running one's PID.

Environment: TIDINGS_LOCAL_SWEEP_INTERVAL (seconds) is the default of --sweep-interval,
TIDINGS_LOCAL_SYNC_INTERVAL of --sync-interval, TIDINGS_LOCAL_ANALYTICS_INTERVAL of
--analytics-interval and TIDINGS_LOCAL_CRM_RETRY_INTERVAL of --crm-retry-interval; every
other TIDINGS_* variable (e.g. TIDINGS_RETRY_INTERVALS=1,2,4) reaches the handlers as is.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from infra.local.processes import StartupError

if TYPE_CHECKING:
    from infra.local.dev import DevRuntime

DEFAULT_STATE_DIR = Path(".tidings")
SWEEP_ENV = "TIDINGS_LOCAL_SWEEP_INTERVAL"
SYNC_ENV = "TIDINGS_LOCAL_SYNC_INTERVAL"
ANALYTICS_ENV = "TIDINGS_LOCAL_ANALYTICS_INTERVAL"
CRM_RETRY_ENV = "TIDINGS_LOCAL_CRM_RETRY_INTERVAL"
MISSED_AFTER_ENV = "TIDINGS_LOCAL_MISSED_AFTER"


def _say(line: str) -> None:
    print(line, flush=True)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from exc
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tidings", description="Tidings' local runtime: the whole AWS topology on this machine."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="start the local stack and serve the API")
    dev.add_argument("--port", type=int, default=3000, help="API port (0: any free port; default 3000)")
    dev.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    dev.add_argument(
        "--sandbox-faults",
        default="",
        metavar="SPEC",
        help="faults the fake platforms, CRMs and SES inject: comma-separated platform:kind:rate (or "
        "hubspot, followupboss, salesforce, custom for a CRM, ses for email), kind one of error500, "
        "rate_limit, timeout, lost_response (e.g. facebook:error500:0.3,hubspot:lost_response:0.2,"
        "ses:rate_limit:0.1)",
    )
    dev.add_argument("--sandbox-seed", type=int, default=None, metavar="N", help="reproducible faults")
    dev.add_argument(
        "--demo",
        action="store_true",
        help="schedule sample posts and a short campaign and show them being published and sent",
    )
    dev.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the stack keeps its data and keys between runs (default .tidings)",
    )
    dev.add_argument(
        "--fresh",
        action="store_true",
        help="start with no data: forget the table, scheduled posts, accounts and all (keys stay)",
    )
    env_sweep = os.environ.get(SWEEP_ENV)
    dev.add_argument(
        "--sweep-interval",
        type=_positive_float,
        default=_positive_float(env_sweep) if env_sweep else None,
        metavar="SECONDS",
        help=f"run the periodic jobs (due-post sweeper, webhook retries) this often (env {SWEEP_ENV})",
    )
    env_sync = os.environ.get(SYNC_ENV)
    dev.add_argument(
        "--sync-interval",
        type=_positive_float,
        default=_positive_float(env_sync) if env_sync else None,
        metavar="SECONDS",
        help=f"run integrations' periodic syncs this often instead of their frequency (env {SYNC_ENV})",
    )
    env_analytics = os.environ.get(ANALYTICS_ENV)
    dev.add_argument(
        "--analytics-interval",
        type=_positive_float,
        default=_positive_float(env_analytics) if env_analytics else None,
        metavar="SECONDS",
        help="run the metrics collection pass this often instead of every 15 minutes "
        f"(env {ANALYTICS_ENV}; TIDINGS_ANALYTICS_CADENCE sets when each post is read)",
    )
    env_crm_retry = os.environ.get(CRM_RETRY_ENV)
    dev.add_argument(
        "--crm-retry-interval",
        type=_positive_float,
        default=_positive_float(env_crm_retry) if env_crm_retry else None,
        metavar="SECONDS",
        help="run the CRM activity retry pass this often instead of every minute "
        f"(env {CRM_RETRY_ENV}; TIDINGS_CRM_RETRY_BASE_SECONDS sets the first back-off)",
    )
    env_missed = os.environ.get(MISSED_AFTER_ENV)
    dev.add_argument(
        "--missed-after",
        type=_positive_float,
        default=_positive_float(env_missed) if env_missed else 24 * 3600.0,
        metavar="SECONDS",
        help="at start, a scheduled post due longer ago than this is marked missed (failed, with the "
        f"reason) instead of sent late (default 86400: 24 hours; env {MISSED_AFTER_ENV})",
    )
    dev.add_argument(
        "--fake-url",
        default="",
        metavar="URL",
        help="use the fake platform server running at URL (python -m infra.local.fakes.platforms) "
        "instead of starting one; the stack never stops it, so what it received outlives the stack (its "
        "comment webhooks verify when its TIDINGS_FAKE_META_APP_SECRET is the stack's "
        "TIDINGS_META_APP_SECRET)",
    )
    dev.add_argument(
        "--verbose", "-v", action="store_true", help="show the children's output and runtime logs"
    )

    token = commands.add_parser("token", help="print a bearer token the local API accepts")
    token.add_argument("user_id", metavar="USER_ID")
    token.add_argument("--ttl", type=int, default=None, metavar="SECONDS", help="lifetime (default 12 hours)")
    token.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)

    login = commands.add_parser(
        "login", help="print a single-use sign-in link to the running stack's dashboard for a user"
    )
    login.add_argument("user_id", metavar="USER_ID")
    login.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)

    connect = commands.add_parser("connect", help="connect a user's sandbox accounts on every platform")
    connect.add_argument("user_id", metavar="USER_ID")
    connect.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)

    invoke = commands.add_parser("invoke", help="run one handler on an event file against the running stack")
    invoke.add_argument("function", metavar="FUNCTION")
    invoke.add_argument("event_file", type=Path, metavar="EVENT_FILE")
    invoke.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)

    status = commands.add_parser(
        "status", help="whether a stack runs on the state directory, and what it holds"
    )
    status.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {
        "dev": _dev,
        "token": _token,
        "login": _login,
        "connect": _connect,
        "invoke": _invoke,
        "status": _status,
    }
    try:
        return handlers[args.command](args)
    except StartupError as exc:
        print(f"tidings {args.command}: {exc}", file=sys.stderr, flush=True)
        return 1


# -- tidings dev ----------------------------------------------------------------------------------
class _Interrupted(BaseException):
    """SIGINT/SIGTERM during start-up: abandon it and stop what was started."""


def curl_command(api_url: str, token: str) -> str:
    """A ready-to-paste command scheduling a post one minute from when it is run (GNU or BSD date)."""
    when = "$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v+1M +%Y-%m-%dT%H:%M:%SZ)"
    body = (
        '{\\"content\\": \\"Hello from Tidings\\", \\"platforms\\": [\\"facebook\\", \\"twitter\\"], '
        f'\\"scheduledTime\\": \\"{when}\\"}}'
    )
    return (
        f"curl -sS -X POST {shlex.quote(api_url + '/posts')} "
        f"-H {shlex.quote('Authorization: Bearer ' + token)} "
        f"-H 'Content-Type: application/json' "
        f'-d "{body}"'
    )


def _dev(args: argparse.Namespace) -> int:
    import logging

    from infra.local.dev import SAMPLE_USER, DevOptions, DevRuntime

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    options = DevOptions(
        host=args.host,
        port=args.port,
        sandbox_faults=args.sandbox_faults,
        sandbox_seed=args.sandbox_seed,
        demo=args.demo,
        state_dir=args.state_dir,
        fresh=args.fresh,
        missed_after=args.missed_after,
        sweep_interval=args.sweep_interval,
        sync_interval=args.sync_interval,
        analytics_interval=args.analytics_interval,
        crm_retry_interval=args.crm_retry_interval,
        fake_url=args.fake_url,
        verbose=args.verbose,
    )
    runtime = DevRuntime(options)
    stop = threading.Event()
    starting = True

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if starting:
            raise _Interrupted()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    demo = None
    try:
        try:
            runtime.start(progress=lambda message: _say(f"... {message}"))
        except _Interrupted:
            _say("interrupted during start-up; stopping")
            return 130
        except StartupError:
            raise
        except Exception as exc:
            raise StartupError(f"start-up failed: {type(exc).__name__}: {exc}") from exc
        starting = False
        _say(f"API: {runtime.urls.api}")
        _say(f"API docs: {runtime.urls.docs}")
        _say(f"dashboard: {runtime.dashboard.sign_in_link(SAMPLE_USER)}")
        _say(f"fake platforms: {runtime.urls.fake_platforms}")
        _say(f"fake CRMs and analytics: {runtime.urls.fake_vendors}")
        _say(f"emails: {runtime.urls.emails}")
        _say(f"token (demo-agent): {runtime.token}")
        _say("Schedule a post one minute from now:")
        _say(curl_command(runtime.urls.api, runtime.token))
        _say(f"Ctrl-C stops the stack. State: {options.state_dir / 'stack.json'}")
        _say("ready")
        if options.demo:
            from infra.local.demo import Demo

            demo = Demo(
                runtime.urls.api,
                runtime.token,
                runtime.urls.fake_platforms,
                _say,
                emails_url=runtime.urls.emails,
            )
            demo.start()
        return _run_until_stopped(runtime, stop)
    finally:
        # The clean stop runs to its end; a second Ctrl-C (or SIGTERM) forces it: every child is
        # killed at once and the command exits.
        def force(signum: int, frame: FrameType | None) -> None:
            _say("forced stop")
            runtime.kill()
            os._exit(130)

        for sig in previous:
            signal.signal(sig, force)
        if demo is not None:
            demo.stop()
        runtime.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_until_stopped(runtime: DevRuntime, stop: threading.Event) -> int:
    """Wait for Ctrl-C or SIGTERM (exit code 0), or for the runtime to give up on a child that keeps
    failing (1, with the reason)."""
    while not stop.wait(0.5):
        if runtime.failure is not None:
            _say(f"stopping: {runtime.failure}")
            return 1
    _say("stopping")
    return 0


# -- tidings token --------------------------------------------------------------------------------
def _token(args: argparse.Namespace) -> int:
    from infra.local.auth import LocalAuth

    auth = LocalAuth(args.state_dir)
    kwargs: dict[str, Any] = {}
    if args.ttl is not None:
        if args.ttl <= 0:
            raise StartupError("--ttl must be a positive number of seconds")
        kwargs["ttl_seconds"] = args.ttl
    print(auth.issue_token(args.user_id, **kwargs), flush=True)
    return 0


# -- tidings login --------------------------------------------------------------------------------
def _login(args: argparse.Namespace) -> int:
    from infra.local.dashboard import SignInCodes
    from infra.local.dev import read_stack_file

    dashboard = read_stack_file(args.state_dir)["urls"].get("dashboard")
    if not dashboard:
        raise StartupError("the running stack serves no dashboard; restart `tidings dev`")
    try:
        code = SignInCodes(args.state_dir).issue(args.user_id)
    except ValueError as exc:
        raise StartupError(str(exc)) from exc
    print(f"dashboard: {dashboard}?code={code}", flush=True)
    return 0


# -- tidings connect / invoke: against the running stack --------------------------------------------
def _attach(state_dir: Path) -> dict[str, Any]:
    """Load the running stack's description and take its environment (endpoints, settings)."""
    from infra.local.dev import read_stack_file

    data = read_stack_file(state_dir)
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[key]
    os.environ.update(data["env"])
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    return data


def _connect(args: argparse.Namespace) -> int:
    data = _attach(args.state_dir)
    from infra.local.sandbox_accounts import connect_sandbox_accounts

    connected = connect_sandbox_accounts(data["urls"]["fakePlatforms"], args.user_id)
    for platform, account_id in connected.items():
        print(f"{platform.value}: {account_id}", flush=True)
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from infra.local.lambda_host import LambdaHost, UnknownFunctionError

    host = LambdaHost()
    try:
        name = host.resolve(args.function)
    except UnknownFunctionError as exc:
        known = ", ".join(host.function_names)
        raise StartupError(f"unknown function {args.function!r}; the functions are: {known}") from exc
    try:
        event = json.loads(args.event_file.read_text())
    except OSError as exc:
        raise StartupError(f"cannot read {args.event_file}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise StartupError(f"{args.event_file} is not JSON: {exc}") from exc
    _attach(args.state_dir)
    result = host.invoke(name, event)
    print(json.dumps(result.payload, indent=2, default=str), flush=True)
    if result.errored:
        print(f"tidings invoke: {name} raised {result.payload.get('errorType')}", file=sys.stderr, flush=True)
        return 1
    return 0


# -- tidings status -------------------------------------------------------------------------------
def _status(args: argparse.Namespace) -> int:
    """Whether a stack runs (its PID and URLs), what it holds, and its last rebuild of schedules."""
    from infra.local.state import RECONCILE_FILE, read_json, running_pid

    pid = running_pid(args.state_dir)
    print(f"state directory: {args.state_dir.resolve()}", flush=True)
    if pid is None:
        print("stack: not running", flush=True)
    else:
        print(f"stack: running (PID {pid})", flush=True)
        data = _attach(args.state_dir)
        for name, url in data["urls"].items():
            print(f"  {name}: {url}", flush=True)
        for label, count in _holdings().items():
            print(f"{label}: {count}", flush=True)
    last = read_json(args.state_dir / RECONCILE_FILE)
    if isinstance(last, dict):
        details = ", ".join(f"{k} {v}" for k, v in last.items() if k not in ("at", "ok"))
        print(
            f"last reconcile: {last.get('at')} {'ok' if last.get('ok') else 'failed'}: {details}", flush=True
        )
    else:
        print("last reconcile: none", flush=True)
    return 0


def _holdings() -> dict[str, int]:
    """What the running stack's table holds: scheduled posts, pending tasks, workflows, integrations."""
    from tidings.core.config import get_settings
    from tidings.store.dynamo import deserialize
    from tidings.store.keys import INTEGRATION_ENTITY, POST_ENTITY, TASK_ENTITY, WORKFLOW_ENTITY
    from tidings.store.restart import scan_entities

    wanted = {
        POST_ENTITY: ("scheduled posts", "scheduled"),
        TASK_ENTITY: ("pending tasks", "pending"),
        WORKFLOW_ENTITY: ("workflows", None),
        INTEGRATION_ENTITY: ("integrations", None),
    }
    counts = dict.fromkeys((label for label, _ in wanted.values()), 0)
    for raw in scan_entities(get_settings().table_name, tuple(wanted)):
        item = deserialize(raw)
        label, status = wanted[str(item["EntityType"])]
        if status is None or item.get("status") == status:
            counts[label] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
