"""Get the Motion Expert from the add-on: ``mace-dance weights download --motion`` in a subprocess.

The add-on never imports the backend, so it runs the backend's own command (the same code path as on the
command line: ``backend/weights/download.py``) with ``--json-progress`` and reads its JSON lines: the
file's size first, then bytes done, then "installed". Cancelling ends the process; huggingface_hub keeps
the partial file in its cache, so the next start resumes where this one stopped. No bpy here: the operator
polls :meth:`MotionExpertDownload.poll` from a timer.
"""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import dataclass

from ._shared import errors


@dataclass
class DownloadState:
    """What the panel shows: ``size`` (bytes, None until known), ``done``/``total`` bytes, the last
    ``message``, and how it ended (``finished``, ``cancelled``, ``error``)."""

    size: int | None = None
    cached: bool = False
    done: int = 0
    total: int = 0
    message: str = ""
    finished: bool = False
    cancelled: bool = False
    error: str = ""

    @property
    def fraction(self) -> float:
        total = self.total or self.size or 0
        return min(1.0, self.done / total) if total else 0.0

    @property
    def running(self) -> bool:
        return not (self.finished or self.cancelled or self.error)


class MotionExpertDownload:
    """One download-and-install run of ``argv`` (``... weights download --motion --json-progress``)."""

    def __init__(self, argv: list[str], env: dict | None = None):
        self.argv, self.env = list(argv), env
        self.state = DownloadState()
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stderr: list[str] = []

    def start(self) -> None:
        try:
            self._process = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             stdin=subprocess.DEVNULL, text=True, bufsize=1)  # fmt: skip
        except OSError as exc:
            raise errors.BackendUnavailableError(
                f"could not run the backend to download the Motion Expert ({' '.join(self.argv)}): {exc}",
                hint="set 'Backend Python' or 'Backend command' in the add-on preferences") from exc
        threading.Thread(target=self._read_events, daemon=True, name="mace-dance-download").start()
        threading.Thread(target=self._read_errors, daemon=True, name="mace-dance-download-err").start()

    def _read_events(self) -> None:
        for line in self._process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a library's stray print
            with self._lock:
                kind = event.get("event")
                if kind == "size":
                    self.state.size, self.state.cached = event.get("bytes"), bool(event.get("cached"))
                elif kind == "progress":
                    self.state.done, self.state.total = int(event["done"]), int(event["total"])
                elif kind == "message":
                    self.state.message = str(event.get("text", ""))
                elif kind == "installed":
                    self.state.finished = True
        code = self._process.wait()
        with self._lock:
            if code and not self.state.cancelled:
                tail = "".join(self._stderr).strip().splitlines()
                self.state.error = (tail[-1] if tail else f"the download exited with code {code}")[:500]

    def _read_errors(self) -> None:
        for line in self._process.stderr:
            self._stderr.append(line)
            del self._stderr[:-20]

    def poll(self) -> DownloadState:
        """A copy of the current state (safe from the timer)."""
        with self._lock:
            return DownloadState(**vars(self.state))

    def cancel(self) -> None:
        """End the download now; what arrived stays in the Hugging Face cache and a new start resumes it."""
        with self._lock:
            self.state.cancelled = True
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()

    def wait(self, timeout_s: float) -> DownloadState:
        """Block until the process ends (tests, background mode)."""
        if self._process is not None:
            self._process.wait(timeout_s)
        for _ in range(100):  # the reader thread records the end right after the pipe closes
            state = self.poll()
            if not state.running:
                return state
            threading.Event().wait(0.05)
        return self.poll()


def format_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"
