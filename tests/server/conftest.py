"""Live backends on loopback (ephemeral ports) and clients connected to them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from backend.server import BackendServer, router
from shared.client import BackendClient
from tests.server.server_fakes import REPO


@pytest.fixture
def start_server(tmp_path, monkeypatch):
    """``start_server(generator, **kw) -> BackendServer`` bound on 127.0.0.1 (free port); stopped after.

    The I/O loop looks for a stop request every 10 ms here instead of every 100 ms: a server stops within one
    such interval, and these tests stop one server each (some hundred in all)."""
    monkeypatch.setattr(router, "STOP_CHECK_INTERVAL_S", 0.01)
    servers = []

    def start(motion_generator, **kwargs) -> BackendServer:
        kwargs.setdefault("heartbeat_interval_s", 0.2)
        kwargs.setdefault("work_root", tmp_path)
        server = BackendServer("tcp://127.0.0.1:0", motion_generator=motion_generator, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(timeout_s=10)


@pytest.fixture
def connect():
    """``connect(server_or_endpoint, **kw) -> BackendClient``; closed after the test."""
    clients = []

    def make(target, **kwargs) -> BackendClient:
        kwargs.setdefault("timeout_s", 5.0)
        client = BackendClient(getattr(target, "endpoint", target), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def backend_process():
    """``backend_process(*args) -> (Popen, endpoint)``: a fake-generator backend in its own process (and
    process group: at the end the group is killed, so the media-check workers of a backend a test killed do
    not outlive the test)."""
    procs = []

    def spawn(*args: str):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        log = tempfile.TemporaryFile("w+")  # not a pipe: a backend logging more than a pipe holds never blocks
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("server_fakes.py")), *args],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
                                start_new_session=True)
        proc.stderr = log
        procs.append(proc)
        endpoint = proc.stdout.readline().strip()
        if not endpoint.startswith("tcp://127.0.0.1:"):
            log.seek(0)
            pytest.fail(f"the backend did not start: {log.read()[-2000:]}")
        return proc, endpoint

    yield spawn
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # the backend and every child of it are gone already
            pass
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
