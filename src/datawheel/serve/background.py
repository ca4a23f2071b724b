"""Running the app: uvicorn in a background thread (the demo and tests) on a free port, the
HTTP stack of this install, and the metrics directory a multi-worker server shares."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from datawheel.errors import DatawheelError

__all__ = ["MULTIPROC_ENV", "BackgroundServer", "bind_socket", "http_stack", "worker_metrics_dir"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable


@contextmanager
def worker_metrics_dir() -> Iterator[Path]:
    """A fresh directory where one server's workers keep their metrics (``serve.prometheus``), set
    in the environment they inherit and removed when the server stops. A directory shared by
    two servers, or left from an earlier one, would add their counts to this one's.

    Enter it before anything imports prometheus_client in a process that serves: the library
    reads the variable once, at import.
    """
    directory = Path(tempfile.mkdtemp(prefix="datawheel-metrics-"))
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = str(directory)
    # uvicorn re-raises a SIGTERM once it has shut down; by default that ends the process
    # before any cleanup: make it a SystemExit that unwinds through this block instead
    main = threading.current_thread() is threading.main_thread()
    handler = signal.signal(signal.SIGTERM, _exit_on_term) if main else None
    try:
        yield directory
    finally:
        if main:
            signal.signal(signal.SIGTERM, handler)
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def _exit_on_term(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def http_stack() -> tuple[str, str]:
    """uvicorn's HTTP parser and event loop for this install: ``("httptools", "uvloop")`` when
    ``uvicorn[standard]`` is installed (a dependency), else the pure-Python fallbacks, which
    serve several times fewer requests a second."""
    found = []
    for fast, fallback in (("httptools", "h11"), ("uvloop", "asyncio")):
        try:
            __import__(fast)
            found.append(fast)
        except ImportError:
            found.append(fallback)
    return found[0], found[1]


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free port without a race between pick and bind."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DatawheelError(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint="choose another --port"
        ) from None
    sock.listen(2048)
    return sock


@dataclass
class BackgroundServer:
    """uvicorn in a daemon thread on 127.0.0.1; ``stop()`` shuts it down cleanly."""

    app: FastAPI
    host: str = "127.0.0.1"
    port: int = 0

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise DatawheelError("the API server did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
        service = getattr(self.app.state, "service", None)
        if service is not None:  # lifespan is off here: flush logs, hand back quota leases
            service.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
