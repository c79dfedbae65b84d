"""Start and stop a backend on this machine (``mace-dance serve``) for an animator without one running.

No bpy here: the process is plain ``subprocess`` and may be started from a worker thread.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from ._shared import errors

STOP_GRACE_S = 5.0


@dataclass
class LaunchSettings:
    """How to start a backend: ``command`` (a full command line, used as is) wins over ``python`` (an
    interpreter with MACE-Dance Studio installed, run as ``python -m backend.cli serve``); with neither,
    ``mace-dance`` on PATH, else the current interpreter."""

    address: str
    command: str = ""
    python: str = ""
    wan_offload: str = "none"  # `serve --offload`: the Wan-Animate settings are fixed when the backend starts
    wan_segment_frames: int = 77  # `serve --segment-frames`


def backend_command(settings: LaunchSettings, *arguments: str) -> list[str]:
    """The backend's command line for ``mace-dance ARGUMENTS…`` (e.g. ``serve``, or ``weights download …``).

    A custom ``command`` is used as written for ``serve``; for anything else its ``serve`` and what follows
    are replaced by ``arguments``."""
    if settings.command.strip():
        argv = shlex.split(settings.command)
        if arguments[:1] != ("serve",):
            argv = argv[: argv.index("serve")] if "serve" in argv else argv
            return [*argv, *arguments]
        return argv
    if settings.python.strip():
        return [settings.python, "-m", "backend.cli", *arguments]
    if shutil.which("mace-dance"):
        return [shutil.which("mace-dance"), *arguments]
    if importlib.util.find_spec("backend") is not None:  # a development checkout on Blender's path
        return [sys.executable, "-m", "backend.cli", *arguments]
    raise errors.BackendUnavailableError(
        "no backend to start: `mace-dance` is not on PATH and Blender's own Python does not have MACE-Dance "
        "Studio", hint="in the add-on preferences set 'Backend Python' to the python of the environment where "
        "MACE-Dance Studio is installed (or 'Backend command'), or start `mace-dance serve` yourself")


def launch_command(settings: LaunchSettings) -> list[str]:
    argv = backend_command(settings, "serve")
    if "--address" not in argv:
        argv += ["--address", settings.address]
    # Only what the animator changed from serve's defaults, so a custom command keeps working as written.
    for flag, value, default in (("--offload", settings.wan_offload, "none"),
                                 ("--segment-frames", settings.wan_segment_frames, 77)):
        if value != default and flag not in argv:
            argv += [flag, str(value)]
    return argv


class LocalBackend:
    """One backend subprocess, its log file, and a guaranteed stop at interpreter exit."""

    def __init__(self, settings: LaunchSettings, log_dir: str | None = None):
        self.settings = settings
        self.argv = launch_command(settings)
        self.log_path = os.path.join(log_dir or tempfile.gettempdir(), "mace-dance-backend.log")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        log = open(self.log_path, "wb")
        try:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise errors.BackendUnavailableError(
                f"could not start the backend ({' '.join(self.argv)}): {exc}",
                hint="set 'Backend command' or 'Backend Python' in the add-on preferences to an installed "
                "MACE-Dance Studio (pip install mace-dance-studio)") from exc
        finally:
            log.close()
        atexit.register(self.stop)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_error(self) -> errors.BackendUnavailableError:
        """The error to show when the process died before answering (with the end of its log)."""
        try:
            with open(self.log_path, "rb") as handle:
                tail = handle.read()[-600:].decode("utf-8", "replace").strip()
        except OSError:
            tail = ""
        code = self.process.returncode if self.process is not None else None
        return errors.BackendUnavailableError(
            f"the local backend exited (code {code}) before answering" + (f": …{tail[-300:]}" if tail else ""),
            hint=f"see the full log at {self.log_path}; check 'Backend command' in the add-on preferences")

    def wait_ready(self, probe, timeout_s: float, interval_s: float = 0.25, should_stop=lambda: False) -> object:
        """Call ``probe()`` (a hello handshake) until it answers; raise if the process dies, time runs out or
        ``should_stop()`` turns true."""
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline and not should_stop():
            if not self.running:
                raise self.exit_error()
            try:
                return probe()
            except errors.BackendUnavailableError as exc:
                last = exc
                time.sleep(interval_s)
        raise errors.BackendUnavailableError(
            f"the local backend did not answer within {timeout_s:g} s" + (f" ({last.message})" if last else ""),
            hint=f"raise 'Startup timeout' in the add-on preferences, or see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
