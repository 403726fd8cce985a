"""`tidings dev`: the whole stack on one machine, started in order and stopped for good.

Processes: this one (the lambda host running every handler, the stream pollers, the scheduler
runner and the HTTP API), DynamoDB Local (Java), the moto server (Step Functions interpreter,
Scheduler, SQS, KMS, Secrets Manager, SES, Lambda) and the fake platform server. The three
children start at once, each in its own process group; whatever happens (Ctrl-C, SIGTERM, a crash
during start-up) `stop()` ends them and waits for them.

`<state-dir>/stack.json` describes the running stack (endpoints, environment, URLs, pids) for
`tidings invoke`, `tidings connect` and tests; it is removed on stop. The rest of the state
directory (infra/local/state.py) outlives the stack: DynamoDB Local's database, the keys that open
what was stored, and the stream consumers' positions; `fresh` starts with no data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.execution_events import ExecutionEventPoller
from infra.local.lambda_host import LambdaHost
from infra.local.moto_server import MotoServer
from infra.local.processes import ChildProcess, StartupError, pid_alive
from infra.local.provision import Endpoints, LocalStack, provision
from infra.local.queue_poller import QueuePoller
from infra.local.scheduler_runner import SchedulerRunner
from infra.local.state import (
    CHECKPOINTS_FILE,
    RECONCILE_FILE,
    StateInUse,
    StateLock,
    clear_data,
    credentials_key,
    database_dir,
    unsubscribe_key,
    write_json,
)
from infra.local.stream_checkpoints import CheckpointStore
from infra.local.stream_poller import StreamPoller
from infra.local.supervisor import Supervisor
from infra.topology import (
    ANALYTICS_COLLECTION,
    CAMPAIGN_EVENTS,
    CRM_ACTIVITY_RETRY,
    EXECUTION_STATUS_RULES,
    PERIODIC_SCHEDULES,
    QUEUE_TRIGGERS,
    ROUTES,
    STREAM_TRIGGERS,
)
from tidings.aws.names import SYNC_SCHEDULE_PREFIX

log = logging.getLogger("infra.local.dev")

STACK_FILE = "stack.json"
SWEEPER = "sweeper"  # the due-post sweeper's function (topology.PERIODIC_SCHEDULES)
SAMPLE_USER = "demo-agent"
FAKE_READY_PREFIX = "fake platforms: "


def _split_faults(spec: str) -> tuple[str, list[tuple[str, str, float]]]:
    """The platform part of a `--sandbox-faults` spec and the CRM items (for the fake vendor server);
    the `ses:` items are left out (`_ses_faults`)."""
    from infra.local.fakes.vendors import split_fault_spec

    try:
        return split_fault_spec(_ses_faults(spec)[0])
    except ValueError as exc:
        raise StartupError(f"--sandbox-faults: {exc}") from exc


def _ses_faults(spec: str) -> tuple[str, list[tuple[str, float]]]:
    """A `--sandbox-faults` spec without its `ses:` items, and those items for the local SES front."""
    from infra.local.fakes.ses import split_ses_faults

    try:
        return split_ses_faults(spec)
    except ValueError as exc:
        raise StartupError(f"--sandbox-faults: {exc}") from exc


def fake_client_env(fake_url: str, vendors_url: str | None = None) -> dict[str, str]:
    """The settings pointing the real platform clients at the fake platform server at `fake_url`, and
    the CRM and analytics connectors at the fake vendor server at `vendors_url` when given."""
    from infra.local.fakes.platforms import client_env_for

    env = client_env_for(fake_url)
    if vendors_url:
        from infra.local.fakes.vendors import client_env_for as vendor_env_for

        env.update(vendor_env_for(vendors_url))
    return env


@dataclass
class DevOptions:
    host: str = "127.0.0.1"
    port: int = 3000
    sandbox_faults: str = ""
    sandbox_seed: int | None = None
    demo: bool = False
    state_dir: Path = Path(".tidings")
    fresh: bool = False  # start with no data (the keys in the state dir stay)
    missed_after: float = 24 * 3600.0  # a post due longer ago than this at start is marked missed
    sweep_interval: float | None = None
    sync_interval: float | None = None  # integrations' periodic syncs, instead of their frequency
    analytics_interval: float | None = None  # the metrics collection pass, instead of every 15 min
    crm_retry_interval: float | None = None  # the CRM activity retry pass, instead of every minute
    # A fake platform server already running (`python -m infra.local.fakes.platforms`) to use instead
    # of starting one: the stack never stops or restarts it, so it outlives the stack with what it
    # received and published (read-backs find them after a restart of the stack, as on a platform).
    fake_url: str = ""
    verbose: bool = False


@dataclass
class DevUrls:
    api: str = ""
    fake_platforms: str = ""
    fake_vendors: str = ""
    ses: str = ""  # the local SES front the handlers' SES v2 client talks to
    dashboard: str = ""  # the dashboard, on the API's origin (infra.local.dashboard)
    live: str = ""  # the live WebSocket API and its @connections (infra.local.websocket_api)

    @property
    def emails(self) -> str:
        """Every email the stack sent (GET)."""
        return f"{self.ses}/_emails" if self.ses else ""

    @property
    def docs(self) -> str:
        return f"{self.api}/docs"


@dataclass
class DevRuntime:
    """Starts and stops the local stack. Use `start()` then `stop()` (also after a failed start)."""

    options: DevOptions
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    urls: DevUrls = field(default_factory=DevUrls)
    stack: LocalStack | None = None
    token: str = ""
    host: LambdaHost = field(default_factory=LambdaHost)
    _dynamodb: DynamoDBLocal | None = None
    _moto: MotoServer | None = None
    _fake: ChildProcess | None = None
    _vendors: Any = None  # infra.local.fakes.vendors.FakeVendorServer, in this process
    _pollers: list[StreamPoller] = field(default_factory=list)
    _queue_pollers: list[QueuePoller] = field(default_factory=list)
    _execution_events: ExecutionEventPoller | None = None
    _ses: Any = None  # infra.local.fakes.ses.SesFront, in this process
    _runner: SchedulerRunner | None = None
    _checkpoints: CheckpointStore | None = None
    _housekeeping: threading.Thread | None = None
    _halt: threading.Event = field(default_factory=threading.Event)
    failure: str | None = None  # why the stack gave up (a child that keeps failing): it must stop
    _supervisor: Supervisor | None = None
    _supervising: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: StateLock | None = None
    _api: Any = None
    _live: Any = None  # infra.local.websocket_api.LocalWebSocketApi
    dashboard: Any = None  # infra.local.dashboard.DashboardSite: sign-in links for the dashboard
    _stopped: bool = False
    _stop_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stack_file(self) -> Path:
        return self.options.state_dir / STACK_FILE

    # -- start -------------------------------------------------------------------------------
    def start(self, progress: Callable[[str], None] | None = None) -> None:
        say = progress or (lambda message: None)
        options = self.options
        options.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # keys and data: the owner's
        echo = sys.stderr if options.verbose else None
        self._check_faults()
        lock = StateLock(options.state_dir)
        try:
            lock.acquire()
        except StateInUse as exc:
            raise StartupError(str(exc)) from exc
        self._lock = lock
        if options.fresh:
            clear_data(options.state_dir)

        self.host.start("127.0.0.1", 0)
        say("starting DynamoDB Local, moto and the fake platforms")
        self._dynamodb = DynamoDBLocal(db_path=database_dir(options.state_dir), echo=echo)
        self._moto = MotoServer(
            self.host.url,
            invoke_secret=self.host.secret,
            credentials_key=credentials_key(options.state_dir),
            echo=echo,
        )
        platform_faults, crm_faults = _split_faults(options.sandbox_faults)
        # Meta's comment webhooks: the fake signs them with the app secret the stack checks them with
        meta_secret = os.environ.get("TIDINGS_META_APP_SECRET") or secrets.token_hex(16)
        self._fake = self._fake_child(platform_faults, meta_secret, echo)
        # All three start at once (and from this thread: children die with the thread that forked).
        self._dynamodb.spawn()
        self._moto.spawn()
        if self._fake is not None:
            self._fake.start()
        self._moto.wait_ready()
        self.urls.fake_platforms = self._fake_platforms_url()
        try:
            self._dynamodb.wait_ready()
        except StartupError:
            self._dynamodb.start()  # another process took the port meanwhile: try new ones

        say("creating the table, queues, functions, state machines and schedules")
        endpoints = Endpoints(dynamodb=self._dynamodb.endpoint, moto=self._moto.url)
        from infra.local.fakes.vendors import FakeVendorServer

        self._vendors = FakeVendorServer(seed=options.sandbox_seed).start()
        for provider, kind, rate in crm_faults:
            self._vendors.add_fault_rate(provider, kind, rate)
        self.urls.fake_vendors = self._vendors.url
        extra_env = fake_client_env(self.urls.fake_platforms, self.urls.fake_vendors)
        extra_env["TIDINGS_META_APP_SECRET"] = meta_secret
        self.stack = provision(
            endpoints, extra_env=extra_env, unsubscribe_key=unsubscribe_key(options.state_dir)
        )
        self._start_ses(endpoints)
        self._deny_own_ports()
        # The handlers run in this process: they read the stack's settings and endpoints from here.
        os.environ.update(self.stack.env)
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        # Locally, webhooks and link checks may reach http://127.0.0.1 (a receiver on this machine);
        # on AWS the setting is off and only https to public addresses is allowed.
        os.environ.setdefault("TIDINGS_ALLOW_PRIVATE_LINKS", "true")
        # Campaign delays may be counted in seconds locally, so tests and demos see a sequence go out.
        os.environ.setdefault("TIDINGS_CAMPAIGN_SECONDS_DELAYS_ALLOWED", "true")
        # The local SES front publishes a message's Send event at once: a send whose answer was lost
        # waits 10 s for it (5 minutes on AWS) before it is sent again.
        os.environ.setdefault("TIDINGS_CAMPAIGN_SEND_CONFIRM_SECONDS", "10")
        self._clear_settings_cache()

        from infra.local.sandbox_accounts import connect_sandbox_accounts, restore_sandbox_accounts

        if restore_sandbox_accounts(self.urls.fake_platforms):
            say("connected accounts restored on the fake platforms")
        from tidings.wiring import account_store

        if not account_store().list(SAMPLE_USER):
            say(f"connecting the sample user {SAMPLE_USER} on every platform")
            connect_sandbox_accounts(self.urls.fake_platforms, SAMPLE_USER)

        self._start_live()
        self._start_event_sources()
        say("rebuilding the schedules from the table")
        self.reconcile(say, attempts_gone=True)  # this process is new: no attempt from before runs
        self._start_api()
        self._deny_own_ports()
        self._write_stack_file()
        self._supervisor = self._supervise_children()
        self._housekeeping = threading.Thread(target=self._keep_house, name="housekeeping", daemon=True)
        self._housekeeping.start()

    def _fake_child(
        self, platform_faults: str, meta_secret: str, echo: IO[str] | None
    ) -> ChildProcess | None:
        """The fake platform server to start, None with --fake-url (one runs already)."""
        options = self.options
        if options.fake_url:
            if platform_faults:
                raise StartupError(
                    f"--sandbox-faults {platform_faults}: with --fake-url, set the platform faults on "
                    "that server (its --faults, or POST /_faults)"
                )
            return None
        argv = [sys.executable, "-m", "infra.local.fakes.platforms", "--port", "0"]
        if platform_faults:
            argv += ["--faults", platform_faults]
        if options.sandbox_seed is not None:
            argv += ["--seed", str(options.sandbox_seed)]
        env = {**_child_env(), "TIDINGS_FAKE_META_APP_SECRET": meta_secret}
        return ChildProcess("fake-platforms", argv, env=env, echo=echo)

    def _fake_platforms_url(self) -> str:
        """The fake platform server's URL once it answers: the child's, or --fake-url's."""
        if self._fake is None:
            return _external_fake(self.options.fake_url)
        line = self._fake.wait_for_line(lambda text: text.startswith(FAKE_READY_PREFIX), 60)
        return line[len(FAKE_READY_PREFIX) :].strip()

    def reconcile(self, say: Callable[[str], None], *, attempts_gone: bool = False) -> dict[str, Any]:
        """Give every stored post, task, integration sync and campaign step its schedule again (moto
        forgot them), mark posts due too long ago missed, write the result to reconcile.json and
        run the sweeper once (it recovers posts a crash left `publishing`). `attempts_gone` at the
        runtime's start: the posts a stopped runtime left mid-attempt are resumed at once."""
        from datetime import timedelta

        from tidings.wiring.restart import rebuild_schedules

        result: dict[str, Any] = {"at": datetime.now(UTC).isoformat(timespec="seconds")}
        missed_after = timedelta(seconds=self.options.missed_after)
        try:
            result.update(ok=True, **rebuild_schedules(missed_after, attempts_gone=attempts_gone))
            say(
                "schedules rebuilt: {posts} posts, {postsStartedNow} due posts sent now, {postsMissed} "
                "missed, {postsResumed} publishing posts resumed, {tasks} tasks, {integrationSyncs} "
                "integration syncs, {campaignSteps} campaign steps, {workflowsResumed} workflows resumed, "
                "{workflowStepsLost} workflow steps lost, {campaignSendsRequeued} campaign sends "
                "requeued".format(**result)
            )
        except Exception as exc:
            result.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            say(f"warning: the schedules could not be rebuilt: {result['error']}")
        write_json(self.options.state_dir / RECONCILE_FILE, result)
        self._sweep("startup")
        return result

    def _sweep(self, why: str) -> None:
        """Run the due-post sweeper once, now, beside the rest."""
        event = {"source": "tidings.local", "schedule": why}
        threading.Thread(target=self.host.invoke, args=(SWEEPER, event), name="sweep", daemon=True).start()

    def _keep_house(self) -> None:
        """Every second: save the stream consumers' positions and restart a child that exited. The
        thread lasts until `stop` has stopped the children: those it restarted die with it."""
        while not self._halt.wait(1.0):
            self._save_checkpoints()
            with self._supervising:
                if self._halt.is_set() or self._supervisor is None or self.failure is not None:
                    continue
                self.failure = self._supervisor.check()
        self._released.wait()

    def _supervise_children(self) -> Supervisor:
        supervisor = Supervisor(self._tell)
        dynamodb, moto, fake = self._dynamodb, self._moto, self._fake
        assert dynamodb is not None
        assert moto is not None
        supervisor.watch("DynamoDB Local", lambda: dynamodb.child, self._restart_dynamodb)
        supervisor.watch("moto", lambda: moto.child, self._restart_moto)
        if fake is not None:  # an external one (--fake-url) is its owner's to watch
            supervisor.watch("fake platforms", lambda: fake, self._restart_fake_platforms)
        return supervisor

    def _tell(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def _restart_dynamodb(self) -> None:
        """Same port, same database; the sweeper then starts posts whose execution failed meanwhile."""
        assert self._dynamodb is not None
        self._dynamodb.restart()
        self._write_stack_file()
        self._sweep("restart")

    def _restart_moto(self) -> None:
        """Same port; moto forgot everything: provision again, then rebuild the schedules (and resume
        what its executions and queues held) from the table."""
        assert self._moto is not None
        assert self.stack is not None
        self._moto.restart()
        fresh = provision(
            self.stack.endpoints,
            extra_env=self.stack.env,
            unsubscribe_key=unsubscribe_key(self.options.state_dir),
        )
        # Only a few ARNs differ (a secret's has a random suffix); the rest of the environment stays.
        changed = {
            k: v for k, v in fresh.env.items() if k.startswith("TIDINGS_") and self.stack.env.get(k) != v
        }
        fresh.env = {**self.stack.env, **changed}
        self.stack = fresh
        os.environ.update(changed)
        self._clear_settings_cache()
        self._write_stack_file()
        self.reconcile(self._tell)

    def _restart_fake_platforms(self) -> None:
        """Same port (the handlers' API bases point at it), the same faults; the connected accounts
        and the webhook receiver are given back."""
        from urllib.parse import urlsplit

        import httpx

        from infra.local.sandbox_accounts import restore_sandbox_accounts

        assert self._fake is not None
        argv = list(self._fake.argv)
        argv[argv.index("--port") + 1] = str(urlsplit(self.urls.fake_platforms).port)
        self._fake.respawn(argv)
        self._fake.wait_for_line(lambda text: text.startswith(FAKE_READY_PREFIX), 60)
        restore_sandbox_accounts(self.urls.fake_platforms)
        httpx.post(f"{self.urls.fake_platforms}/_webhooks", json={"url": f"{self.urls.api}/inbound/meta"})
        self._write_stack_file()

    def _save_checkpoints(self) -> None:
        if self._checkpoints is not None:
            try:
                self._checkpoints.save()
            except OSError as exc:
                log.warning("cannot save the stream positions: %s", exc)

    def _check_faults(self) -> None:
        if not self.options.sandbox_faults:
            return
        from infra.local.fakes.state import FaultSpec, FaultSpecError

        try:
            FaultSpec.parse(_split_faults(self.options.sandbox_faults)[0])
        except FaultSpecError as exc:
            raise StartupError(f"--sandbox-faults: {exc}") from exc

    def _start_ses(self, endpoints: Endpoints) -> None:
        """The local SES front before moto's SES: the handlers' SES v2 client talks to it."""
        from infra.local.fakes.ses import SesFront

        stack = self.stack
        assert stack is not None
        self._ses = SesFront(endpoints.moto, seed=self.options.sandbox_seed, on_event=self._ses_event).start()
        for kind, rate in _ses_faults(self.options.sandbox_faults)[1]:
            self._ses.add_fault(kind, rate=rate)
        self.urls.ses = self._ses.url
        stack.env["AWS_ENDPOINT_URL_SESV2"] = self._ses.url

    def _deny_own_ports(self) -> None:
        """Name the runtime's own ports in TIDINGS_LOCAL_RUNTIME_PORTS (DynamoDB Local, moto, the
        lambda host, the SES front, the live WebSocket API and the API once it listens): with private
        links allowed, a URL a user gives still may not reach them (tidings.core.netguard), so a
        webhook cannot write to the table, call moto's AWS APIs or send the lambda host an event. The
        fake platforms and vendors stay reachable: they serve the media and take the calls local runs
        are made of."""
        from urllib.parse import urlsplit

        stack = self.stack
        assert stack is not None
        own = (stack.endpoints.dynamodb, stack.endpoints.moto, self.host.url, self.urls.ses, self.urls.api)
        ports = sorted({port for url in (*own, self.urls.live) if url and (port := urlsplit(url).port)})
        stack.env["TIDINGS_LOCAL_RUNTIME_PORTS"] = os.environ["TIDINGS_LOCAL_RUNTIME_PORTS"] = ",".join(
            str(port) for port in ports
        )
        self._clear_settings_cache()

    def _ses_event(self, event: dict[str, Any]) -> None:
        """The configuration set's EventBridge destination and rule: SES events go to campaign_events."""
        result = self.host.invoke(CAMPAIGN_EVENTS, event)
        if result.function_error:
            raise RuntimeError(f"{CAMPAIGN_EVENTS} failed: {result.payload}")

    @staticmethod
    def _clear_settings_cache() -> None:
        from tidings.core.config import get_settings

        get_settings.cache_clear()

    def _start_event_sources(self) -> None:
        stack = self.stack
        assert stack is not None
        self._checkpoints = CheckpointStore(self.options.state_dir / CHECKPOINTS_FILE, stack.stream_arn)
        for trigger in STREAM_TRIGGERS:
            poller = StreamPoller(
                trigger,
                stack.stream_arn,
                self.host.invoke,
                stack.client("dynamodbstreams"),
                sqs_client=stack.client("sqs"),
                on_failure_queue_url=stack.stream_failure_queues[trigger.function].url,
                function_arn=stack.function_arns[trigger.function],
                region=stack.endpoints.region,
                positions=self._checkpoints.consumer(trigger.function),
            )
            poller.start()
            self._pollers.append(poller)
        for queue_trigger in QUEUE_TRIGGERS:
            queue = stack.trigger_queues[queue_trigger.queue]
            queue_poller = QueuePoller(
                queue_trigger,
                queue.url,
                queue.arn,
                self.host.invoke,
                stack.client("sqs"),
                region=stack.endpoints.region,
            )
            queue_poller.start()
            self._queue_pollers.append(queue_poller)
        overrides: dict[str, float] = {}
        if self.options.sweep_interval:
            overrides = {s.name: self.options.sweep_interval for s in PERIODIC_SCHEDULES}
        if self.options.sync_interval:
            overrides[SYNC_SCHEDULE_PREFIX + "*"] = self.options.sync_interval
        if self.options.analytics_interval:
            overrides[ANALYTICS_COLLECTION] = self.options.analytics_interval
        if self.options.crm_retry_interval:
            overrides[CRM_ACTIVITY_RETRY] = self.options.crm_retry_interval
        self._runner = SchedulerRunner(stack.client, self.host.invoke, period_overrides=overrides)
        self._runner.start()
        # The EventBridge rules on execution status changes (moto sends no events): executions that
        # ended unfinished reach their function as on AWS.
        self._execution_events = ExecutionEventPoller(
            EXECUTION_STATUS_RULES,
            stack.state_machine_arns,
            self.host.invoke,
            stack.client("stepfunctions"),
            account=stack.endpoints.account_id,
            region=stack.endpoints.region,
        )
        self._execution_events.start()

    def _start_live(self) -> None:
        """The live WebSocket API with its @connections, before the stream pollers: live_fanout posts
        to it with the unchanged boto3 adapter; connections are taken once the API serves the key set."""
        from infra.local.auth import AUDIENCE, ISSUER
        from infra.local.websocket_api import LocalWebSocketApi
        from infra.topology import WEBSOCKET_ROUTES

        def invoke(function: str, event: dict[str, Any]) -> object:
            return self.host.invoke(function, event).payload

        self._live = LocalWebSocketApi(WEBSOCKET_ROUTES, invoke, self.options.host).start()
        self.urls.live = self._live.url
        self._set_env(
            TIDINGS_LIVE_ENDPOINT_URL=self._live.management_url,
            TIDINGS_LIVE_ISSUER_URL=ISSUER,
            TIDINGS_LIVE_CLIENT_IDS=AUDIENCE,
        )

    def _set_env(self, **env: str) -> None:
        assert self.stack is not None
        self.stack.env.update(env)
        os.environ.update(env)
        self._clear_settings_cache()

    def _start_api(self) -> None:
        from infra.local.api_gateway import LocalHttpApi
        from infra.local.auth import LocalAuth

        auth = LocalAuth(self.options.state_dir)
        self.token = auth.issue_token(SAMPLE_USER)

        def invoke(function: str, event: dict[str, Any]) -> object:
            return self.host.invoke(function, event).payload

        api = LocalHttpApi(ROUTES, invoke, auth, self.options.host, self.options.port)
        try:
            api.start()
        except OSError as exc:
            raise StartupError(
                f"cannot serve the API on {self.options.host}:{self.options.port} ({exc.strerror or exc}); "
                "pass --port 0 to take any free port"
            ) from exc
        self._api = api
        self.urls.api = str(api.url)
        from infra.local.dashboard import DashboardSite, SignInCodes

        self.dashboard = api.site = DashboardSite(
            self.urls.api, auth, SignInCodes(self.options.state_dir), live_url=self.urls.live
        )
        if self._live is not None:  # the $connect token check reads the key set the API serves
            from infra.local.api_gateway import JWKS_PATH

            self._set_env(TIDINGS_LIVE_JWKS_URL=f"{self.urls.api}{JWKS_PATH}")
            self._live.open()
        self.urls.dashboard = self.dashboard.url
        # Unsubscribe links in campaign email point at this API (the stack gives its own URL on AWS).
        assert self.stack is not None
        self.stack.env["TIDINGS_PUBLIC_API_URL"] = self.urls.api
        os.environ["TIDINGS_PUBLIC_API_URL"] = self.urls.api
        self._clear_settings_cache()
        # The fake platforms send comment webhooks (POST <fake>/_comments {"webhook": true}) here.
        import httpx

        httpx.post(f"{self.urls.fake_platforms}/_webhooks", json={"url": f"{self.urls.api}/inbound/meta"})

    def _write_stack_file(self) -> None:
        stack = self.stack
        assert stack is not None
        data = {
            "version": 1,
            "startedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "pid": os.getpid(),
            "pids": {
                "tidings": os.getpid(),
                "dynamodb-local": self._dynamodb.pid if self._dynamodb else None,
                "moto": self._moto.pid if self._moto else None,
                "fake-platforms": self._fake.pid if self._fake else None,
            },
            "urls": {
                "api": self.urls.api,
                "docs": self.urls.docs,
                "dashboard": self.urls.dashboard,
                "live": self.urls.live,
                "fakePlatforms": self.urls.fake_platforms,
                "fakeVendors": self.urls.fake_vendors,
                "ses": self.urls.ses,
                "emails": self.urls.emails,
                "lambdaHost": self.host.url,
                "dynamodb": stack.endpoints.dynamodb,
                "moto": stack.endpoints.moto,
            },
            "env": stack.env,
            "stack": stack.to_json(),
        }
        tmp = self.stack_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.stack_file)

    # -- stop --------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop everything that was started, in reverse order; safe to call more than once."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._halt.set()
        with self._supervising:  # a restart under way ends first; none starts after
            for name, step in self._stop_steps():
                try:
                    step()
                except Exception as exc:  # keep stopping the rest
                    log.warning("stopping %s: %s", name, exc)
        self._released.set()
        if self._housekeeping is not None:
            self._housekeeping.join(timeout=5)
        with contextlib.suppress(OSError):
            data = json.loads(self.stack_file.read_text())
            if data.get("pid") == os.getpid():
                self.stack_file.unlink()
        if self._lock is not None:
            self._lock.release()

    def kill(self) -> None:
        """A forced stop: SIGKILL every child process group at once (a second Ctrl-C)."""
        for child in (self._dynamodb, self._moto, self._fake):
            pid = child.pid if child is not None else None
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)

    def _stop_steps(self) -> list[tuple[str, Callable[[], None]]]:
        """What `stop` does, in order: the API and event sources first, DynamoDB Local last."""
        steps: list[tuple[str, Callable[[], None]]] = []
        if self._api is not None:
            steps.append(("HTTP API", self._api.stop))
        if self._live is not None:
            steps.append(("live WebSocket API", self._live.stop))
        if self._runner is not None:
            steps.append(("scheduler runner", self._runner.stop))
        steps += [("stream poller", poller.stop) for poller in self._pollers]
        steps += [("queue poller", poller.stop) for poller in self._queue_pollers]
        if self._execution_events is not None:
            steps.append(("execution events", self._execution_events.stop))
        steps.append(("stream positions", self._save_checkpoints))
        steps.append(("lambda host", self.host.stop))
        if self._moto is not None:
            steps.append(("moto", self._moto.stop))
        if self._fake is not None:
            steps.append(("fake platforms", self._fake.stop))
        if self._vendors is not None:
            steps.append(("fake vendors", self._vendors.stop))
        if self._ses is not None:
            steps.append(("local SES", self._ses.stop))
        if self._dynamodb is not None:
            steps.append(("DynamoDB Local", self._dynamodb.stop))
        return steps


def _external_fake(url: str) -> str:
    """The URL of the fake platform server given with --fake-url, once it answers."""
    import httpx

    url = url.rstrip("/")
    try:
        httpx.get(f"{url}/_calls", timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        raise StartupError(f"--fake-url {url}: no fake platform server answers there ({exc})") from exc
    return url


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def read_stack_file(state_dir: Path) -> dict[str, Any]:
    """The running stack's description; StartupError if none is running."""
    path = state_dir / STACK_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise StartupError(f"no local stack is running (no {path}); start one with `tidings dev`") from exc
    except ValueError as exc:
        raise StartupError(f"{path} is not readable JSON: {exc}") from exc
    pid = data.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        raise StartupError(
            f"no local stack is running (the `tidings dev` of {path} has exited); "
            "start one with `tidings dev`"
        )
    return data
