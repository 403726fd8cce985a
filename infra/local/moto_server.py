"""moto in server mode, in its own process, with Lambda invocations routed to the lambda host.

Run as `TIDINGS_LOCAL_INVOKE_SECRET=<the lambda host's secret> python -m infra.local.moto_server
--port N --lambda-host URL`; it prints `moto server: <URL>` once it listens (port 0 picks a free one).

Small, documented changes to moto (pinned at 5.2.5 in pyproject.toml; the pin test in
tests/integration/test_local_moto_hook.py fails loudly if either stops working):

1. ONE hook on `moto.awslambda.models.LambdaFunction._invoke_lambda`: instead of running the code
   in a Docker container, moto POSTs the event to `<lambda-host>/invoke/<function name>` (with the
   host's invoke secret) and takes the answer as the invocation result (payload, errored, logs),
   exactly as `LambdaFunction.invoke` expects. Step Functions' Lambda tasks reach it through moto's
   Lambda `Invoke`, so the state machine interpreter runs here while the handlers run in the
   `tidings dev` process: the two use both cores.
2. The state machine interpreter builds a brand-new boto3 client for every task
   (`moto/stepfunctions/parser/asl/utils/boto_client.py: boto_client_for`); building one costs
   several milliseconds of CPU. The clients are cached per (region, service) instead: botocore
   clients are thread-safe, and these carry fixed fake credentials anyway.
3. With the interpreter on, moto 5.2.5 names an execution started without `name` "None", so the
   second unnamed StartExecution of a machine fails with ExecutionAlreadyExists. Step Functions
   gives such an execution a generated UUID name (StartExecution API reference, `name`:
   "If you don't provide a name for the execution, Step Functions automatically generates a
   universally unique identifier (UUID) as the execution name"); so does this process.
4. Every execution parses its state machine's ASL again with ANTLR (about 20 ms of CPU for the
   publish machine). The parsed program is cached per definition text and each execution gets a
   deep copy of it (about 1 ms), so no execution ever shares a component with another.

5. moto's KMS keeps its keys in memory, so a restarted server could not open a credential sealed
   before. With `--credentials-key FILE` (written by infra/local/state.py, mode 0600: a key id and
   256 bits of key material) the server starts with that key already in KMS, under its own id and
   the alias `alias/tidings-credentials`; provisioning finds it by the alias instead of creating one.

The Step Functions interpreter is switched on with moto's own config flag
`{"stepfunctions": {"execute_state_machine": true}}`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import quote, urlsplit

from infra.local.processes import ChildProcess

READY_PREFIX = "moto server: "
FUNCTION_ERROR_HEADER = "X-Tidings-Function-Error"
# The lambda host runs every handler on whatever event reaches its port, so it takes an invocation
# only with the secret it made for its own process (`LambdaHost.secret`). This server gets it from
# the environment (an argument would show in the process list) and sends it with each invocation.
INVOKE_SECRET_HEADER = "X-Tidings-Invoke-Secret"  # noqa: S105  (a header's name, not a secret)
INVOKE_SECRET_ENV = "TIDINGS_LOCAL_INVOKE_SECRET"  # noqa: S105  (a variable's name)
_DEFAULT_INVOKE_TIMEOUT = 30.0


class _ConnectionPool:
    """Keep-alive HTTP connections to the lambda host, shared by moto's request threads."""

    def __init__(self, base_url: str, size: int = 32) -> None:
        parts = urlsplit(base_url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"lambda host URL needs a host and a port: {base_url!r}")
        self.host: str = parts.hostname
        self.port: int = parts.port
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._size = size

    @contextmanager
    def connection(self, timeout: float) -> Iterator[http.client.HTTPConnection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        reuse = False
        try:
            yield conn
            with self._lock:
                if len(self._idle) < self._size:
                    self._idle.append(conn)
                    reuse = True
        finally:
            if not reuse:
                conn.close()


def forward_invocation(
    pool: _ConnectionPool, function_name: str, event: Any, timeout: float, secret: str
) -> tuple[str, bool, str]:
    """POST the event to the lambda host; (payload, errored, logs) as moto's _invoke_lambda returns."""
    if isinstance(event, bytes | str):
        text = event.decode() if isinstance(event, bytes) else event
        body = text.encode() if text.strip() else b"{}"
    else:
        body = json.dumps({} if event is None else event).encode()
    path = f"/invoke/{quote(function_name, safe='')}"
    for attempt in (1, 2):
        try:
            with pool.connection(timeout) as conn:
                headers = {"Content-Type": "application/json", INVOKE_SECRET_HEADER: secret}
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read().decode()
                errored = resp.getheader(FUNCTION_ERROR_HEADER) is not None or resp.status >= 400
                return payload, errored, ""
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            # A kept-alive connection the host already closed: retry once on a fresh one.
            if attempt == 2:
                error = {
                    "errorMessage": f"lambda host unreachable: {exc}",
                    "errorType": "Lambda.ServiceException",
                }
                return json.dumps(error), True, ""
    raise AssertionError("unreachable")


def install_lambda_hook(lambda_host: str, secret: str) -> None:
    """Route every moto Lambda invocation to the lambda host (see the module docstring), with the
    host's invoke secret."""
    from moto.awslambda.models import LambdaFunction

    pool = _ConnectionPool(lambda_host)

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        timeout = max(float(getattr(self, "timeout", 0) or 0), _DEFAULT_INVOKE_TIMEOUT) + 10.0
        return forward_invocation(pool, str(self.function_name), event, timeout, secret)

    setattr(LambdaFunction, "_invoke_lambda", _invoke_lambda)  # noqa: B010


def install_client_cache(port: int) -> None:
    """Reuse one boto3 client per (region, service) in the state machine interpreter."""
    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.utils import boto_client as module

    original = module.boto_client_for
    sdk: Any = boto3  # service names are runtime strings here
    cache: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()
    endpoint = f"http://127.0.0.1:{port}"

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service)
        client = cache.get(key)
        if client is None:
            with lock:
                client = cache.get(key)
                if client is None:
                    client = sdk.client(
                        service_name=service,
                        region_name=region,
                        endpoint_url=endpoint,
                        aws_access_key_id="ak",
                        aws_secret_access_key="sk",  # noqa: S106 - moto takes any
                        config=Config(
                            parameter_validation=False,
                            retries={"max_attempts": 0, "total_max_attempts": 1},
                            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                            max_pool_connections=64,
                        ),
                    )
                    cache[key] = client
        return client

    setattr(module, "boto_client_for", boto_client_for)  # noqa: B010
    # Modules that already did `from ... import boto_client_for` hold the original: rebind them.
    for mod in list(sys.modules.values()):
        if getattr(mod, "boto_client_for", None) is original:
            setattr(mod, "boto_client_for", boto_client_for)  # noqa: B010


def install_execution_name_default() -> None:
    """Give unnamed executions a UUID name, as Step Functions does (see the module docstring)."""
    import uuid

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    setattr(StepFunctionsParserBackend, "start_execution", start_execution)  # noqa: B010


def install_program_cache() -> None:
    """Parse each distinct ASL definition once (see the module docstring)."""
    import copy

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_entrypoint
    parsed: dict[str, Any] = {}
    lock = threading.Lock()

    def _get_evaluation_entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if not isinstance(definition, str):
            return original(self)
        with lock:
            program = parsed.get(definition)
        if program is None:
            program = AmazonStateLanguageParser.parse(definition)[0]
            with lock:
                if len(parsed) > 256:
                    parsed.clear()
                parsed[definition] = program
        return copy.deepcopy(program)

    setattr(ExecutionWorker, "_get_evaluation_entrypoint", _get_evaluation_entrypoint)  # noqa: B010


CREDENTIALS_KEY_ALIAS = "alias/tidings-credentials"


def install_durable_key(path: Path, account_id: str, region: str) -> str:
    """Put the key of `path` in moto's KMS with its own id and material (see the module docstring);
    its ARN."""
    import base64

    from moto.kms.models import kms_backends

    data = json.loads(path.read_text())
    backend = kms_backends[account_id][region]
    key = backend.create_key(
        policy=None,
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        description="Tidings credentials: wraps one data key per stored secret",
        tags=None,
    )
    backend.keys.pop(key.id)
    key.id = str(data["keyId"])
    key.arn = f"arn:aws:kms:{region}:{account_id}:key/{key.id}"
    key.key_material = base64.b64decode(data["material"])
    backend.keys[key.id] = key
    backend.create_alias(key.id, CREDENTIALS_KEY_ALIAS)
    return str(key.arn)


def configure(lambda_host: str, port: int, secret: str, cache_clients: bool = True) -> None:
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    # moto's interpreter calls moto's own Lambda/SFN/... through MOTO_PORT on localhost.
    os.environ["MOTO_PORT"] = str(port)
    install_lambda_hook(lambda_host, secret)
    install_execution_name_default()
    if cache_clients:
        install_client_cache(port)
        install_program_cache()


def serve(
    host: str,
    port: int,
    lambda_host: str,
    secret: str,
    cache_clients: bool = True,
    credentials_key: Path | None = None,
) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class _Dispatcher(DomainDispatcherApplication):
        """moto's dispatcher, with the host -> backend lookup memoised: moto lists its package
        directory and tries a few hundred URL patterns for every request, under a global lock."""

        _memo: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host not in self._memo:
                self._memo[host] = super().get_backend_for_host(host)
            return self._memo[host]

    app = _Dispatcher(create_backend_app)
    # One access-log line per request costs CPU here and in the reader of this process's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    class _RequestHandler(MotoRequestHandler):
        # Keep-alive: botocore reuses its connections instead of opening one per request.
        protocol_version = "HTTP/1.1"

    server = make_server(host, port, app, threaded=True, request_handler=_RequestHandler)
    actual_port = int(server.server_address[1])
    configure(lambda_host, actual_port, secret, cache_clients)
    if credentials_key is not None:
        from infra.local.lambda_host import DEFAULT_ACCOUNT, DEFAULT_REGION  # it imports this module

        install_durable_key(credentials_key, DEFAULT_ACCOUNT, DEFAULT_REGION)

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"{READY_PREFIX}http://{host}:{actual_port}", flush=True)
    server.serve_forever(poll_interval=0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.moto_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--lambda-host", required=True, help="URL of the lambda host (POST /invoke/<fn>)")
    parser.add_argument(
        "--no-client-cache",
        action="store_true",
        help="let moto's interpreter build a new boto3 client per task (for measurements)",
    )
    parser.add_argument(
        "--credentials-key",
        type=Path,
        default=None,
        metavar="FILE",
        help="start KMS with this key (id and material) as alias/tidings-credentials",
    )
    args = parser.parse_args(argv)
    secret = os.environ.get(INVOKE_SECRET_ENV, "")
    if not secret:
        parser.error(f"{INVOKE_SECRET_ENV} must hold the lambda host's invoke secret")
    serve(
        args.host,
        args.port,
        args.lambda_host,
        secret,
        cache_clients=not args.no_client_cache,
        credentials_key=args.credentials_key,
    )
    return 0


class MotoServer:
    """Launches `python -m infra.local.moto_server` and reads its URL from the ready line.
    `invoke_secret` is the lambda host's (`LambdaHost.secret`), passed in the child's environment."""

    def __init__(
        self,
        lambda_host: str,
        *,
        invoke_secret: str,
        cache_clients: bool = True,
        credentials_key: Path | None = None,
        echo: IO[str] | None = None,
        python: str = sys.executable,
    ) -> None:
        argv = [python, "-m", "infra.local.moto_server", "--port", "0", "--lambda-host", lambda_host]
        if not cache_clients:
            argv.append("--no-client-cache")
        if credentials_key is not None:
            argv += ["--credentials-key", str(credentials_key)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "MOTO_"))}
        env["PYTHONUNBUFFERED"] = "1"
        env[INVOKE_SECRET_ENV] = invoke_secret
        self._child = ChildProcess("moto", argv, env=env, echo=echo)
        self.url = ""

    @property
    def pid(self) -> int | None:
        return self._child.pid

    @property
    def child(self) -> ChildProcess:
        return self._child

    def restart(self, timeout: float = 60.0) -> None:
        """Start the server again on the port it had (its clients keep their URL), with no state."""
        port = urlsplit(self.url).port
        argv = list(self._child.argv)
        argv[argv.index("--port") + 1] = str(port)
        self._child.respawn(argv)
        self.wait_ready(timeout)

    def start(self, timeout: float = 60.0) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        self._child.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            line = self._child.wait_for_line(lambda text: text.startswith(READY_PREFIX), timeout)
        except Exception:
            self._child.stop()
            raise
        self.url = line[len(READY_PREFIX) :].strip()

    def stop(self) -> None:
        self._child.stop()


if __name__ == "__main__":
    sys.exit(main())
