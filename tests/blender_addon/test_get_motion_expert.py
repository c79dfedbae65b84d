"""The add-on's "Get Motion Expert": ``weights download --motion`` against a local stand-in for the hub.

A small HTTP server answers as huggingface.co does for one file (HEAD with the commit and ETag, GET with
``Range``), slowly, so the download can be watched and cancelled; HF_ENDPOINT points huggingface_hub at it.
No bpy: the download runs through ``blender_addon.motion_expert_download`` as the operator does.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import sys
import threading
import time
from pathlib import Path

import pytest

# The backend end of the download (its archive writer and weights code) lives in the main environment: the
# bpy 4.2/4.5 venvs carry only the add-on's own dependencies, so there this module is skipped, saying why.
py7zr = pytest.importorskip("py7zr", reason="needs the backend's environment (py7zr); runs with bpy 5.0 in .venv")

from backend.config import BackendConfig
from backend.motion_expert.checkpoint import find_checkpoint
from blender_addon.local_backend import LaunchSettings, backend_command
from blender_addon.motion_expert_download import MotionExpertDownload, format_size
from tests.backend.motion_expert.test_checkpoint import official_key_shapes, write_official_checkpoint
from tests.backend.test_weights import SMALL

REPO = Path(__file__).resolve().parents[2]
FILE = "weight/Expert-Motion/Expert-Motion.7z"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class StandInHub(http.server.ThreadingHTTPServer):
    """Serves ``data`` at GD-ML/MACE-Dance's resolve URL, ``chunk`` bytes every ``pause_s``; logs Range headers."""

    def __init__(self, data: bytes, chunk: int = 256 * 1024, pause_s: float = 0.05):
        self.data, self.chunk, self.pause_s, self.ranges = data, chunk, pause_s, []
        self.etag = hashlib.sha256(data).hexdigest()
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _headers(self, status: int, length: int, extra: dict | None = None) -> None:
        self.send_response(status)
        for key, value in {"X-Repo-Commit": COMMIT, "ETag": f'"{self.server.etag}"', "Content-Length": str(length),
                           "Accept-Ranges": "bytes", **(extra or {})}.items():  # fmt: skip
            self.send_header(key, value)
        self.end_headers()

    def _known(self) -> bool:
        if self.path.split("?")[0].endswith(f"/GD-ML/MACE-Dance/resolve/main/{FILE}"):
            return True
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_HEAD(self) -> None:
        if self._known():
            self._headers(200, len(self.server.data))

    def do_GET(self) -> None:
        if not self._known():
            return
        data, start = self.server.data, 0
        wanted = self.headers.get("Range")
        self.server.ranges.append(wanted)
        if wanted:
            start = int(wanted.split("=")[1].split("-")[0])
            self._headers(206, len(data) - start, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        else:
            self._headers(200, len(data))
        try:
            for at in range(start, len(data), self.server.chunk):
                self.wfile.write(data[at : at + self.server.chunk])
                self.wfile.flush()
                time.sleep(self.server.pause_s)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client was cancelled


@pytest.fixture
def hub(tmp_path):
    release = tmp_path / "Expert-Motion"
    release.mkdir()
    write_official_checkpoint(release / "train-3750.pt", official_key_shapes(**SMALL))
    # huggingface_hub reports progress every 10 MiB: 24 MB (stored, not compressed) to watch and cancel
    (release / "padding.bin").write_bytes(os.urandom(24_000_000))
    archive = tmp_path / "Expert-Motion.7z"
    with py7zr.SevenZipFile(archive, "w", filters=[{"id": py7zr.FILTER_COPY}]) as handle:
        handle.writeall(release, arcname=release.name)
    server = StandInHub(archive.read_bytes())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_backend_command_reuses_the_serve_settings_for_other_commands():
    python = LaunchSettings("tcp://127.0.0.1:1", python="/opt/py/bin/python")
    assert backend_command(python, "weights", "download") == ["/opt/py/bin/python", "-m", "backend.cli", "weights",
                                                              "download"]  # fmt: skip
    custom = LaunchSettings("tcp://127.0.0.1:1", command="conda run -n mace mace-dance serve --device cpu")
    assert backend_command(custom, "weights", "download") == ["conda", "run", "-n", "mace", "mace-dance", "weights",
                                                              "download"]  # fmt: skip
    assert backend_command(custom, "serve")[-3:] == ["serve", "--device", "cpu"]
    assert format_size(312_000_000) == "312 MB" and format_size(None) == "size unknown"


@pytest.mark.slow  # two backend processes (torch import, checkpoint verification) and a throttled transfer
def test_download_shows_size_and_progress_cancels_and_resumes_offline(hub, tmp_path):
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": str(tmp_path / "hub"),
           "MACE_DANCE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO), "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_HUB_OFFLINE", None)
    argv = [sys.executable, "-m", "backend.cli", "weights", "download", "--motion", "--json-progress"]

    first = MotionExpertDownload(argv, env)
    first.start()
    deadline = time.monotonic() + 120
    while first.poll().done == 0:  # the first 10 MiB have arrived
        assert first.poll().running and time.monotonic() < deadline, first.poll()
        time.sleep(0.05)
    state = first.poll()
    assert state.size == len(hub.data) and not state.cached
    assert 0 < state.fraction < 1
    first.cancel()
    assert first.wait(30).cancelled
    partial = list((tmp_path / "home").rglob("*.part"))
    assert len(partial) == 1 and 0 < partial[0].stat().st_size < len(hub.data)
    kept = partial[0].stat().st_size
    with pytest.raises(Exception):
        find_checkpoint(BackendConfig(home=tmp_path / "home").motion_weights)  # nothing installed yet

    second = MotionExpertDownload(argv, env)
    second.start()
    state = second.wait(300)
    assert state.finished and not state.error, (state, second._stderr)
    assert state.done == state.total == len(hub.data)
    assert hub.ranges[0] is None and hub.ranges[-1] == f"bytes={kept}-"  # the second run asked only for the rest
    found = find_checkpoint(BackendConfig(home=tmp_path / "home").motion_weights)
    assert found.path.name.startswith("train-")
