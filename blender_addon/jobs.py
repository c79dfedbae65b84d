"""Backend jobs from Blender: one job at a time, never freezing the interface.

Two drivers share one code path (``JobSession.run``):

* GUI: the connection check (and starting a local backend if asked) runs on a worker thread that never
  touches bpy; submission and polling use the client's non-blocking API from a ``bpy.app.timers``
  callback every ``POLL_INTERVAL_S``; the finish callback runs on the main thread.
* Background (``bpy.app.background``, e.g. ``blender -b``): timers never fire there, so the same steps run
  blocking, with the client's deadline.

Timers are unregistered when the job ends, on cancel, on ``unregister()`` and at exit (a live timer hangs
Blender's exit).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ipaddress
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import bpy

from ._shared import errors
from . import compat
from .local_backend import LaunchSettings, LocalBackend

if TYPE_CHECKING:  # msgpack is loaded only when a backend is used (see _shared)
    from ._shared import protocol

POLL_INTERVAL_S = 0.1
#: A handshake waits in slices this long, so closing the session stops a waiting thread quickly.
PROBE_SLICE_S = 0.5


@dataclass
class ConnectionSettings:
    """Everything needed to reach (or start) a backend; built from the add-on preferences."""

    address: str
    timeout_s: float = 3.0
    job_timeout_s: float = 3600.0
    server_public_key: str = ""
    client_secret_key_file: str = ""
    start_local: bool = True
    startup_timeout_s: float = 60.0
    backend_command: str = ""
    backend_python: str = ""
    wan_offload: str = "none"
    wan_segment_frames: int = 77


def is_loopback(address: str) -> bool:
    """True for ``tcp://127.0.0.1:…``, ``tcp://localhost:…``, ``ipc://…``; a local backend is only started
    for such addresses."""
    parsed = urllib.parse.urlparse(address)
    if parsed.scheme in ("ipc", "inproc"):
        return True
    host = parsed.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def describe_hello(info: protocol.Hello) -> str:
    """One line for the panel from the backend's ``hello`` answer."""
    parts = [f"backend {info.backend_version or '?'}"]
    for label, value in (("motion", info.motion_generator), ("video", info.video_renderer), ("device", info.device)):
        if value:
            parts.append(f"{label}: {value}")
    if info.cluster is not None:
        cluster = info.cluster
        parts.append(f"Ray: {len(cluster.nodes)} node(s), {cluster.gpus:g} GPU(s), {len(cluster.workers)} worker(s)")
    # which model weights the backend has installed (`mace-dance info` in full)
    names = {"motion_expert": "Motion Expert", "wan_animate": "Wan-Animate", "mace_appearance": "MACE appearance"}
    parts.append("weights: " + (", ".join(names.get(k, k) for k, v in info.weights.items() if v) or "none"))
    return " · ".join(parts)


class JobSession:
    """The add-on's single connection to the backend and the job in flight."""

    def __init__(self):
        self.client = None
        self.last_hello = None  # the last `hello` answer (shared.protocol.Hello), for the panel
        self._client_key = None
        self.local: LocalBackend | None = None
        self.job = None
        self.kind = ""
        self._finish: Callable | None = None
        self._submit: Callable | None = None
        self._connecting: concurrent.futures.Future | None = None
        self._settings: ConnectionSettings | None = None
        self._status_sink: Callable[[dict], None] = lambda update: None
        self._closing = threading.Event()  # set to stop the handshake thread in flight
        self._connect_thread: threading.Thread | None = None
        # bpy.app.timers matches callbacks by identity and every `self._tick` is a new bound method: keep one.
        self.timer = self._tick

    # -- connection -------------------------------------------------------------------------------------
    def _make_client(self, settings: ConnectionSettings):
        from ._shared import client as shared_client

        return shared_client.BackendClient(
            settings.address, timeout_s=settings.timeout_s,
            server_public_key=settings.server_public_key or None,
            client_secret_key_file=settings.client_secret_key_file or None,
        )

    def _main_client(self, settings: ConnectionSettings):
        key = (settings.address, settings.timeout_s, settings.server_public_key, settings.client_secret_key_file)
        if self.client is None or key != self._client_key:
            self.close_client()
            self.client, self._client_key = self._make_client(settings), key
        return self.client

    def close_client(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()

    def _hello(self, client, timeout_s: float, stop: threading.Event):
        """``client.hello()`` retried in short slices until ``timeout_s`` has passed or the session closes,
        so a thread waiting on a dead backend can be stopped within one slice."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.last_hello = client.hello()  # the backend box shows who dances and why
                return self.last_hello
            except errors.KeyRefusedError:
                raise  # a backend is there and said no: retrying or saying "no backend answered" would mislead
            except errors.BackendUnavailableError as exc:
                if stop.is_set() or time.monotonic() >= deadline:
                    # The client's hint says what to do (start a backend, or fix the CURVE keys).
                    raise errors.BackendUnavailableError(
                        f"no backend answered at {client.address} within {timeout_s:g} s", hint=exc.hint) from None

    def connect(self, settings: ConnectionSettings, stop: threading.Event | None = None) -> str:
        """Handshake with the backend, starting a local one first if none answers and that is allowed.

        Blocking; touches no bpy data (safe on a worker thread); gives up soon after ``stop`` is set.
        Returns the panel's status line.
        """
        stop = stop or threading.Event()
        probe = dict(vars(settings), timeout_s=min(settings.timeout_s, PROBE_SLICE_S))
        probe_client = self._make_client(ConnectionSettings(**probe))
        try:
            try:
                return describe_hello(self._hello(probe_client, settings.timeout_s, stop))
            except errors.KeyRefusedError:
                raise  # never start a second backend because this one refused our key
            except errors.BackendUnavailableError:
                if not (settings.start_local and is_loopback(settings.address)):
                    raise
            try:
                if self.local is None or not self.local.running:
                    launch = LaunchSettings(settings.address, settings.backend_command, settings.backend_python,
                                            settings.wan_offload, settings.wan_segment_frames)
                    self.local = LocalBackend(launch, compat.extension_user_dir(__package__))
                    self.local.start()
                info = self.local.wait_ready(lambda: self._hello(probe_client, PROBE_SLICE_S, stop),
                                             settings.startup_timeout_s, should_stop=stop.is_set)
            except errors.BackendUnavailableError as exc:  # what failed first: nothing answered at the address
                raise errors.BackendUnavailableError(
                    f"no backend answered at {settings.address}, and starting one here failed: {exc.message}",
                    hint=exc.hint) from exc
            return describe_hello(info) + " (started here)"
        finally:
            probe_client.close()

    def stop_local(self) -> bool:
        local, self.local = self.local, None
        if local is None:
            return False
        local.stop()
        return True

    # -- jobs ----------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._submit is not None or self.job is not None or self._connecting is not None

    def run(self, settings: ConnectionSettings, kind: str, submit: Callable | None, finish: Callable | None,
            status: Callable[[dict], None], blocking: bool | None = None) -> None:
        """Run one backend job: ``submit(client) -> JobHandle``, then ``finish(result)`` on the main thread.
        With ``submit`` None only the connection is made (handshake, local backend start).

        ``status(update)`` receives dicts with any of ``busy, progress, message, error, backend`` for the
        panel. In background mode this returns when the job is over (errors raise); in the GUI it returns
        at once and the rest happens in a timer (errors go to ``status``). ``blocking`` overrides the choice
        (default: blocking exactly when ``bpy.app.background``).
        """
        if self.busy:
            raise errors.InvalidInputError(f"a {self.kind} job is already running",
                                           hint="wait for it to finish or press Cancel")
        self.kind, self._submit, self._finish, self._status_sink = kind, submit, finish, status
        status({"busy": True, "progress": 0.0, "message": f"{kind}: connecting…", "error": "", "hint": ""})
        if bpy.app.background if blocking is None else blocking:
            self._run_blocking(settings)
        else:
            self._connecting = self._connect_in_background(settings)
            self._settings = settings
            if not bpy.app.timers.is_registered(self.timer):
                # persistent: a job keeps running when another .blend is opened meanwhile
                bpy.app.timers.register(self.timer, first_interval=POLL_INTERVAL_S, persistent=True)

    def _connect_in_background(self, settings: ConnectionSettings) -> concurrent.futures.Future:
        """Run :meth:`connect` on a daemon thread (a handshake with a dead backend waits ``timeout_s``; a
        daemon thread never holds up Blender's exit, unlike a ThreadPoolExecutor's, which is joined)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        stop = self._closing = threading.Event()

        def work() -> None:
            try:
                future.set_result(self.connect(settings, stop))
            except BaseException as exc:  # handed to the timer, which reports it
                future.set_exception(exc)

        self._connect_thread = threading.Thread(target=work, name="mace-dance-connect", daemon=True)
        self._connect_thread.start()
        return future

    # The three steps both drivers share: connected -> submitted, progress, finished.
    def _connected(self, backend: str, settings: ConnectionSettings) -> bool:
        """The handshake answered: show it and submit the job. False when only a connection was asked for."""
        self._status_sink({"backend": backend})
        if self._submit is None:
            self._end()
            self._status_sink({"message": backend})
            return False
        self.job = self._submit(self._main_client(settings))
        return True

    def _report_progress(self, job) -> None:
        position = getattr(job, "queue_position", None)
        message = f"waiting in queue (position {position})" if position else job.message or job.state
        self._status_sink({"progress": float(job.progress or 0.0), "message": f"{self.kind}: {message}"})

    def _finished(self, result) -> None:
        finish = self._finish
        self._end()
        finish(result)

    def _run_blocking(self, settings: ConnectionSettings) -> None:
        try:
            if not self._connected(self.connect(settings), settings):
                return
            try:
                result = self.client.wait(self.job, settings.job_timeout_s, self._report_progress)
            except TimeoutError as exc:
                self.client.cancel(self.job)
                raise errors.BackendUnavailableError(
                    f"the {self.kind} job did not finish within {settings.job_timeout_s:g} s",
                    hint="raise 'Job timeout' in the add-on preferences, or shorten the music") from exc
            self._finished(result)
        except BaseException as exc:
            self._end(error=exc)
            raise

    def _tick(self):
        """Timer callback (GUI only): drive connection, submission and polling; None unregisters it."""
        try:
            if self._connecting is not None:
                if not self._connecting.done():
                    return POLL_INTERVAL_S
                backend = self._connecting.result()  # raises the connection error, if any
                self._connecting = None
                if not self._connected(backend, self._settings):
                    return None
            if self.job is None:
                return None
            self.client.poll()
            job = self.job
            if not job.done:
                self._report_progress(job)
                return POLL_INTERVAL_S
            if job.error is not None:
                raise job.error
            self._finished(job.result)
        except Exception as exc:  # shown in the panel and the report line; the timer stops
            self._end(error=exc)
            if not isinstance(exc, errors.JobCancelledError):
                report_in_interface(exc)
        return None

    def _end(self, error: BaseException | None = None) -> None:
        self.job, self._submit, self._finish, self._connecting = None, None, None, None
        update = {"busy": False}
        if isinstance(error, errors.JobCancelledError):
            update.update({"message": error.message, "error": "", "hint": "", "progress": 0.0})
        elif error is not None:
            update.update(error_fields(error))
            if isinstance(error, errors.BackendUnavailableError):
                update["backend"] = "not connected"
        self._status_sink(update)

    def cancel(self) -> bool:
        """Ask the backend to drop the running job; stop waiting for it either way."""
        if not self.busy:
            return False
        self._closing.set()  # a handshake still in progress gives up
        job, client = self.job, self.client
        if job is not None and client is not None:
            try:
                client.cancel(job)
            except errors.MaceError:
                pass  # the backend may be gone; the job is abandoned locally regardless
        self._end(error=errors.JobCancelledError(f"{self.kind} cancelled"))
        self.unregister_timer()
        return True

    def unregister_timer(self) -> None:
        if bpy.app.timers.is_registered(self.timer):
            bpy.app.timers.unregister(self.timer)

    def shutdown(self) -> None:
        """Unregister the timer, drop the job, close the socket, stop a backend started here."""
        self.unregister_timer()
        self._closing.set()
        if self._connect_thread is not None:  # ends within one probe slice
            self._connect_thread.join(PROBE_SLICE_S * 4)
            self._connect_thread = None
        if self.busy:
            self.cancel()
        self.close_client()
        self.stop_local()


def error_fields(exc: BaseException) -> dict:
    """Panel fields for an error: message and, for our errors, the hint that names the fix."""
    if isinstance(exc, errors.MaceError):
        return {"error": exc.message, "hint": exc.hint or "", "message": ""}
    return {"error": f"{type(exc).__name__}: {exc}", "hint": "", "message": ""}


def report_in_interface(exc: BaseException) -> None:
    """Errors that happen in a timer have no operator to report through: pop them up over the window
    (they are also in the panel) and print them to the console."""
    text = str(exc)
    print(f"MACE-Dance: {text}")
    wm = bpy.context.window_manager
    if bpy.app.background or wm is None or not wm.windows:  # no window to pop up over (4.2 would crash)
        return

    def draw(menu, _context):
        menu.layout.label(text=text)

    wm.popup_menu(draw, title="MACE-Dance", icon="ERROR")


SESSION = JobSession()


@atexit.register
def _shutdown_at_exit() -> None:
    SESSION.shutdown()
