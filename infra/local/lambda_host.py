"""The lambda host: runs the functions' handlers in this process, by function name.

One entry point for every caller: the moto hook (`POST /invoke/<function>` on 127.0.0.1, served
by a threaded HTTP server so many state machine tasks run at once), the stream poller, the
scheduler runner, the HTTP API emulator and `tidings invoke` (`host.invoke(name, event)`).

A handler trusts its event as Lambda's own (an API event carries the user the authorizer checked),
so the port takes an invocation only with the secret this host made when it was created, in the
`X-Tidings-Invoke-Secret` header: any other process on the machine, or a request a local webhook
makes, is answered 403 and runs nothing. Only the moto server is given the secret.

Each handler module (`functions.<name>.handler`) is imported lazily, once, on its first
invocation, after the dev process has put the stack's environment in os.environ. A raised
exception becomes Lambda's error payload (`errorMessage`, `errorType`, `stackTrace`) with
FunctionError `Unhandled`, as the Lambda Invoke API reports it.
"""

from __future__ import annotations

import contextvars
import hmac
import importlib
import importlib.util
import json
import logging
import secrets
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from infra.local.moto_server import FUNCTION_ERROR_HEADER, INVOKE_SECRET_HEADER
from infra.topology import FUNCTIONS, FunctionSpec

log = logging.getLogger("infra.local.lambda")

Handler = Callable[[Any, Any], Any]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"


class UnknownFunctionError(KeyError):
    """No function of that name (or physical name, or ARN) is hosted here."""

    def __str__(self) -> str:
        return f"unknown function {self.args[0]!r}"


@dataclass
class LambdaContext:
    """The attributes of Lambda's Python context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass(frozen=True)
class Invocation:
    """What Lambda's Invoke returns: the payload, and `function_error` when the handler raised."""

    payload: Any
    function_error: str | None = None
    duration_ms: float = 0.0

    @property
    def errored(self) -> bool:
        return self.function_error is not None


@dataclass
class _Hosted:
    spec: FunctionSpec
    physical_name: str
    handler: Handler | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_handler(spec: FunctionSpec) -> Handler:
    """Import the handler from its file, as Lambda does from the function's folder, under a module
    name of its own (every function's module is called `handler`)."""
    module_name, _, attr = spec.handler.rpartition(".")
    path = spec.folder / f"{module_name.replace('.', '/')}.py"
    unique = f"tidings_functions.{spec.name}.{module_name}"
    if unique not in sys.modules:
        loader_spec = importlib.util.spec_from_file_location(unique, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[unique] = module
        loader_spec.loader.exec_module(module)
    handler: Handler = getattr(sys.modules[unique], attr)
    return handler


def physical_name(spec: FunctionSpec) -> str:
    """The deployed function's name: `tidings-<name with dashes>` (the same in moto and on AWS)."""
    return "tidings-" + spec.name.replace("_", "-")


def error_payload(exc: BaseException) -> dict[str, Any]:
    """Lambda's error shape for an unhandled exception in a Python handler."""
    frames = traceback.format_tb(exc.__traceback__)
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": "",
        "stackTrace": [frame.rstrip("\n") for frame in frames],
    }


# -- log keys per invocation -------------------------------------------------------------------
# On Lambda each instance of a function serves one request at a time, in a process of its own: the
# keys a handler adds to its log lines (Powertools' `inject_lambda_context` adds the request id and
# cold start, a correlation id; handlers append their own, like `post_id`) are that function's and
# each invocation's sets them again. Here every function runs in one process, many at once, with one
# Powertools logger, so one request's keys would show in another's lines. The logger's keys are
# therefore made per invocation: each runs in a fresh contextvars context, and the formatter's keys
# are read from that context (starting from the logger's own), so what an invocation adds ends
# with it.

_REQUEST_LOG_KEYS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "local_request_log_keys", default=None
)


class _RequestLogKeys:
    """Mixed into the Powertools formatter: `log_format` (its keys) is per contextvars context."""

    _baseline: dict[str, Any]

    @property
    def log_format(self) -> dict[str, Any]:
        keys = _REQUEST_LOG_KEYS.get()
        if keys is None:
            keys = dict(self._baseline)
            _REQUEST_LOG_KEYS.set(keys)
        return keys

    @log_format.setter
    def log_format(self, value: dict[str, Any]) -> None:
        _REQUEST_LOG_KEYS.set(value)


_log_keys_lock = threading.Lock()


def per_request_log_keys() -> None:
    """Make the tidings logger's keys per invocation (once; idempotent)."""
    from tidings.core.observability import logger

    with _log_keys_lock:
        formatter: Any = logger.registered_formatter
        if isinstance(formatter, _RequestLogKeys):
            return
        baseline = dict(formatter.__dict__.pop("log_format"))
        base = type(formatter)
        formatter.__class__ = type(f"PerRequest{base.__name__}", (_RequestLogKeys, base), {})
        formatter._baseline = baseline


# -- the HTTP resolver's request per invocation ------------------------------------------------
# Powertools' event handler keeps the request it resolves in class attributes of its BaseRouter
# (`resolve` sets `BaseRouter.current_event` and `BaseRouter.lambda_context`, which routes read as
# `app.current_event`) and the routing context (the matched route, its path arguments, the parsed
# request) on the resolver, which `resolve` clears as it ends. On Lambda an instance resolves one
# request at a time. Here the HTTP API's requests run at once in one process against one resolver:
# a route could read the event of a request that started after it (another body, signature and
# user; a Meta webhook then stored the other delivery's entry twice and its own not at all, and
# answered 200), and one request's end emptied another's routing context. So these are kept per
# contextvars context too, that is per invocation; outside the host, per thread.

_ROUTER_STATE: contextvars.ContextVar[dict[tuple[int, str], Any] | None] = contextvars.ContextVar(
    "local_router_state", default=None
)
_ROUTER_CLASS_ATTRIBUTES = ("current_event", "lambda_context")  # set on the class by `resolve`
_ROUTER_INSTANCE_ATTRIBUTES: dict[str, Callable[[], Any]] = {"context": dict, "processed_stack_frames": list}


def _router_state() -> dict[tuple[int, str], Any]:
    state = _ROUTER_STATE.get()
    if state is None:
        state = {}
        _ROUTER_STATE.set(state)
    return state


class _PerInvocation:
    """A BaseRouter attribute read and written in the current contextvars context: one value for
    the class (`shared`), or one per resolver."""

    def __init__(self, name: str, default: Callable[[], Any], *, shared: bool) -> None:
        self.name, self.default, self.shared = name, default, shared

    def _key(self, obj: object) -> tuple[int, str]:
        return (0 if self.shared else id(obj), self.name)

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None and not self.shared:
            return self
        state = _router_state()
        key = self._key(obj)
        if key not in state:
            state[key] = self.default()
        return state[key]

    def __set__(self, obj: object, value: Any) -> None:
        _router_state()[self._key(obj)] = value


_router_lock = threading.Lock()


def per_request_router_state() -> None:
    """Make Powertools' resolver keep its request per invocation (once; idempotent)."""
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    with _router_lock:
        meta = type(BaseRouter)
        if getattr(meta, "per_invocation", False):
            return

        class PerInvocationRouterMeta(meta):  # type: ignore[misc,valid-type]
            """`BaseRouter.current_event = event` (as `resolve` does) sets this invocation's."""

            per_invocation = True

            def __setattr__(cls, name: str, value: Any) -> None:
                found = cls.__dict__.get(name)
                if isinstance(found, _PerInvocation):
                    found.__set__(None, value)
                else:
                    super().__setattr__(name, value)

        for name in _ROUTER_CLASS_ATTRIBUTES:
            setattr(BaseRouter, name, _PerInvocation(name, lambda: None, shared=True))
        for name, default in _ROUTER_INSTANCE_ATTRIBUTES.items():
            setattr(BaseRouter, name, _PerInvocation(name, default, shared=False))
        BaseRouter.__class__ = PerInvocationRouterMeta  # type: ignore[method-assign]


class LambdaHost:
    """Hosts the functions of the topology (or any handlers given) and invokes them by name."""

    def __init__(
        self,
        functions: Iterable[FunctionSpec] = FUNCTIONS,
        *,
        handlers: Mapping[str, Handler] | None = None,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self._functions: dict[str, _Hosted] = {}
        self._aliases: dict[str, str] = {}
        for spec in functions:
            self._add(spec, None)
        for name, handler in (handlers or {}).items():
            self.register(name, handler)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        # What an HTTP invocation must carry (see the module doc); new with each host.
        self.secret = secrets.token_urlsafe(32)

    # -- functions --------------------------------------------------------------------------
    def _add(self, spec: FunctionSpec, handler: Handler | None) -> None:
        hosted = _Hosted(spec=spec, physical_name=physical_name(spec), handler=handler)
        self._functions[spec.name] = hosted
        for alias in (spec.name, hosted.physical_name, self.function_arn(spec.name)):
            self._aliases[alias] = spec.name

    def register(
        self, name: str, handler: Handler, *, timeout_seconds: int = 30, memory_mb: int = 512
    ) -> None:
        """Host `handler` as function `name` (tests use this to host small handlers of their own)."""
        existing = self._functions.get(name)
        if existing is not None:
            existing.handler = handler
            return
        spec = FunctionSpec(
            name=name,
            description=f"{name} (registered)",
            access=frozenset(),
            timeout_seconds=timeout_seconds,
            memory_mb=memory_mb,
        )
        self._add(spec, handler)

    @property
    def function_names(self) -> list[str]:
        return sorted(self._functions)

    def spec(self, name: str) -> FunctionSpec:
        return self._hosted(name).spec

    def physical_name(self, name: str) -> str:
        return self._hosted(name).physical_name

    def function_arn(self, name: str) -> str:
        hosted = self._functions.get(name)
        physical = hosted.physical_name if hosted else name
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{physical}"

    def resolve(self, name_or_arn: str) -> str:
        """The topology name for a topology name, a physical name or an ARN (with or without a
        qualifier such as `:$LATEST`)."""
        if name_or_arn in self._aliases:
            return self._aliases[name_or_arn]
        if name_or_arn.startswith("arn:"):
            parts = name_or_arn.split(":")
            if len(parts) >= 7 and parts[5] == "function" and parts[6] in self._aliases:
                return self._aliases[parts[6]]
        raise UnknownFunctionError(name_or_arn)

    def _hosted(self, name: str) -> _Hosted:
        return self._functions[self.resolve(name)]

    def _handler(self, hosted: _Hosted) -> Handler:
        if hosted.handler is None:
            with hosted.lock:
                if hosted.handler is None:
                    hosted.handler = load_handler(hosted.spec)
        assert hosted.handler is not None
        return hosted.handler

    # -- invocation -------------------------------------------------------------------------
    def invoke(self, name: str, event: Any) -> Invocation:
        """Run the handler on `event` (a JSON-compatible value) and return its result.

        The payload goes through a JSON round trip both ways, as it would over Lambda's API, so a
        handler never receives or returns objects that Lambda could not carry.
        """
        hosted = self._hosted(name)
        spec = hosted.spec
        started = time.perf_counter()
        context = LambdaContext(
            function_name=hosted.physical_name,
            invoked_function_arn=self.function_arn(spec.name),
            memory_limit_in_mb=spec.memory_mb,
            timeout_seconds=spec.timeout_seconds,
        )
        try:
            handler = self._handler(hosted)
            per_request_log_keys()
            per_request_router_state()
            # A fresh context per invocation: the log keys it adds end with it (see below).
            result = contextvars.Context().run(handler, json.loads(json.dumps(event)), context)
            payload = json.loads(json.dumps(result, default=str)) if result is not None else None
        except Exception as exc:
            log.warning("%s raised %s: %s", spec.name, type(exc).__name__, exc)
            duration = (time.perf_counter() - started) * 1000
            return Invocation(error_payload(exc), "Unhandled", duration)
        duration = (time.perf_counter() - started) * 1000
        return Invocation(payload, None, duration)

    # -- HTTP endpoint for the moto hook ----------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        lambda_host = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                given = self.headers.get(INVOKE_SECRET_HEADER, "").encode()
                if not hmac.compare_digest(given, lambda_host.secret.encode()):
                    self._answer(403, {"message": "the invoke secret is missing or wrong"})
                    return
                if not self.path.startswith("/invoke/"):
                    self._answer(404, {"message": f"no route {self.path}"})
                    return
                name = unquote(self.path[len("/invoke/") :])
                try:
                    event = json.loads(body) if body.strip() else {}
                except ValueError:
                    self._answer(400, {"message": "the event is not JSON"})
                    return
                try:
                    result = lambda_host.invoke(name, event)
                except UnknownFunctionError as exc:
                    error = {"errorMessage": str(exc), "errorType": "ResourceNotFoundException"}
                    self._answer(404, error, function_error="Unhandled")
                    return
                self._answer(200, result.payload, function_error=result.function_error)

            def _answer(self, status: int, payload: Any, function_error: str | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if function_error:
                    self.send_header(FUNCTION_ERROR_HEADER, function_error)
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        self._server = server
        self.url = f"http://{host}:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="lambda-host", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
