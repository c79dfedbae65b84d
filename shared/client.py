"""The Python client of the generation backend, used by the Blender add-on and the CLI.

Two ways to use it:

* **non-blocking** (Blender timers): ``submit_generate_motion`` / ``submit_render_video`` return a
  :class:`JobHandle` at once; call :meth:`BackendClient.poll` now and then — it never blocks, updates the
  handles and returns what happened (:class:`ClientEvent`); ``cancel(job)`` asks the backend to stop a job.
* **blocking** (batch scripts, the CLI): ``generate_motion(...)`` / ``render_video(...)`` submit and wait;
  ``wait(job)`` waits for a submitted job; ``hello()`` asks what the backend can do.

The backend sends heartbeats while it holds a job of ours, so silence for ``timeout_s`` means it is gone:
the job fails with :class:`shared.errors.BackendUnavailableError` (raised by the blocking calls). In turn the
client sends ``heartbeat`` whenever it polls or waits with live jobs: the backend cancels the jobs of a client
silent for its ``client_timeout_s`` (so keep polling).

Jobs belong to this client's *owner identity*, not to its connection: its CURVE key, or else the secret
``token`` the backend gives at the first ``hello`` (sent before the first job; every job request, cancel and
heartbeat carries it). A client made later with the same ``token`` (or key) can ``fetch`` a job by its id and
receives its progress and result; nobody else can. Errors the backend reports arrive as the matching
``shared.errors`` class with its message and hint; a backend that refuses this client's CURVE key (or wants
keys this client lacks) is reported as such at once, from the connection's handshake events.

pyzmq is imported lazily (here only): importing ``shared`` never needs it.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import protocol
from .errors import (
    BackendUnavailableError,
    JobCancelledError,
    KeyRefusedError,
    MaceError,
    ProtocolError,
    TooLargeError,
    error_from_dict,
)
from .keep import KeepSpec
from .motion import Motion, MotionResult
from .sampling import SamplerChoice

logger = logging.getLogger(__name__)

START_HINT = "start a backend with `mace-dance serve` (or check the address in the add-on preferences)"
CURVE_HINT = ("the backend only admits allow-listed keys: copy this client's public .key file into the "
              "backend's authorized_clients/ folder, and use the backend's server.key as server_public_key")
NEEDS_KEYS_HINT = ("this backend only admits clients with CURVE keys: make a key pair with `mace-dance keys DIR "
                   "--name NAME`, have NAME.key added to the backend's authorized_clients/, and pass "
                   "server_public_key=<its server.key> and client_secret_key_file=NAME.key_secret")
NO_KEYS_HINT = "this backend does not use CURVE keys: connect without server_public_key"
SERVER_KEY_HINT = ("the backend's key is not the one given as server_public_key: copy the backend's current "
                   "server.key to this machine")
# Events kept for `poll()` while blocking calls drive the socket; older ones are dropped.
MAX_BACKLOG = 1000


@dataclass
class ReceivedRender:
    """A rendered video (mp4 bytes, with the music when audio was sent) and, when made, the pose video.

    The client's side of ``backend.appearance.RenderResult``: the same facts, with the files' bytes in place
    of the backend's paths.
    """

    video_bytes: bytes
    renderer: str
    frames: int
    fps: float
    pose_video_bytes: bytes | None = None
    #: What made the video, in words for the user (e.g. "2.5-D body"); the renderer's name from older backends.
    made_by: str = ""


@dataclass(eq=False)
class JobHandle:
    """A job submitted to the backend; ``poll``/``wait`` keep it up to date.

    ``state``: 'queued', 'running', 'done', 'failed' or 'cancelled'. ``progress`` in [0, 1].
    ``queue_position``: jobs ahead of this one while queued (0 = next), else None.
    ``result``: :class:`~shared.motion.MotionResult` / :class:`ReceivedRender` once done; ``error``: the
    ``shared.errors`` exception once failed or cancelled.
    """

    id: str
    kind: str
    state: str = "queued"
    progress: float = 0.0
    message: str = "sent"
    queue_position: int | None = None
    result: Any = None
    error: MaceError | None = None
    submitted_at: float = field(default_factory=time.monotonic, repr=False)

    @property
    def done(self) -> bool:
        """True once the job has ended (done, failed or cancelled)."""
        return self.state in protocol.FINISHED_STATES


@dataclass
class ClientEvent:
    """Something that happened: ``type`` is the backend message type ('accepted', 'progress', 'result',
    'error', 'cancel') — or 'error' for a backend that went silent — ``job`` the handle it concerns."""

    type: str
    job: JobHandle | None
    payload: dict


def _load_public_key(key: str | bytes | Path) -> bytes:
    """A CURVE public key given as Z85 text/bytes (40 characters) or as a certificate file path."""
    if isinstance(key, bytes) and len(key) == 40:
        return key
    if isinstance(key, str) and len(key) == 40 and not Path(key).exists():
        return key.encode("ascii")
    import zmq.auth

    public, _ = zmq.auth.load_certificate(str(key))
    return public


class BackendClient:
    """A connection to one backend (a ZeroMQ DEALER socket). Not thread-safe: use it from one thread.

    Args:
        address: the backend's endpoint, ``tcp://127.0.0.1:7557`` by default.
        timeout_s: how long the backend may stay silent before it counts as unavailable.
        server_public_key: the backend's CURVE public key (Z85 or its ``server.key`` file) when it uses keys.
        client_secret_key_file: this client's ``.key_secret`` certificate (made by ``mace-dance keys``); an
            allow-listing backend refuses clients without one.
        token: the ``token`` of an earlier client of the same backend (see :attr:`token`), to ``fetch`` its jobs.
    """

    def __init__(
        self,
        address: str = protocol.DEFAULT_ADDRESS,
        *,
        timeout_s: float = 10.0,
        server_public_key: str | bytes | Path | None = None,
        client_secret_key_file: str | Path | None = None,
        token: str | None = None,
    ):
        import zmq

        self._zmq = zmq
        self.address = address
        self.timeout_s = float(timeout_s)
        self._server_public_key = None if server_public_key is None else _load_public_key(server_public_key)
        self._client_keys = None
        if client_secret_key_file is not None:
            import zmq.auth

            self._client_keys = zmq.auth.load_certificate(str(client_secret_key_file))
        elif self._server_public_key is not None:
            self._client_keys = zmq.curve_keypair()
        self._context = zmq.Context()
        self._socket = None
        self._monitor = None
        self._jobs: dict[str, JobHandle] = {}
        self._awaited: dict[str, protocol.Envelope | None] = {}  # request token -> reply once it came
        self._backlog: collections.deque[ClientEvent] = collections.deque(maxlen=MAX_BACKLOG)
        self._last_heard = time.monotonic()
        self._last_heartbeat_sent = 0.0
        self._heartbeat_interval_s = protocol.HEARTBEAT_INTERVAL_S  # shortened to fit the backend's timeout
        self._handshake_error: KeyRefusedError | None = None  # set when the backend refused us
        #: the secret that makes this client the owner of its jobs (None until the first ``hello``; stays None
        #: with CURVE keys, where the key is the owner). Keep it to ``fetch`` jobs from another client.
        self.token = token
        self._open_socket()

    # ---- connection -----------------------------------------------------------------------------------
    def _open_socket(self) -> None:
        zmq = self._zmq
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        if self._server_public_key is not None:
            public, secret = self._client_keys
            sock.setsockopt(zmq.CURVE_SERVERKEY, self._server_public_key)
            sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
            sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
        # Handshake events tell a refused key (or a keys mismatch) from a backend that is not there.
        self._monitor = sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self._handshake_error = None
        if "[" in self.address:  # an IPv6 literal such as tcp://[::1]:7557
            sock.setsockopt(zmq.IPV6, 1)
        sock.connect(self.address)
        self._socket = sock

    def _reopen_socket(self) -> None:
        """Drop a socket whose requests went unanswered (lazy-pirate), so stale ones are never delivered."""
        if any(not job.done for job in self._jobs.values()):
            return  # a new socket would be a new identity: live jobs could no longer reach us
        self._close_socket()
        self._open_socket()

    def _close_socket(self) -> None:
        if self._monitor is not None:
            self._socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def close(self) -> None:
        """Cancel this client's unfinished jobs (best effort) and close the connection."""
        if self._socket is None:
            return
        for job in self._jobs.values():
            if not job.done:
                self._send("cancel", job.id, {})
        self._socket.setsockopt(self._zmq.LINGER, 200)  # let the cancels go out
        self._close_socket()
        self._context.term()

    def __enter__(self) -> "BackendClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _unavailable(self, what: str) -> BackendUnavailableError:
        if self._read_handshake_events() is not None:
            return self._handshake_error
        return BackendUnavailableError(f"no backend answered at {self.address} within {self.timeout_s:g} s "
                                       f"({what})", START_HINT)

    def _read_handshake_events(self) -> KeyRefusedError | None:
        """Handle the connection's handshake events; returns the refusal when the backend refused us."""
        if self._monitor is None:
            return self._handshake_error
        from zmq.utils.monitor import recv_monitor_message

        zmq = self._zmq
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._handshake_error = None
            elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:  # the backend's authenticator said no
                self._handshake_error = KeyRefusedError(
                    f"the backend at {self.address} refused this client's CURVE key", CURVE_HINT)
            elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:  # one side uses CURVE, the other not
                with_keys = self._server_public_key is not None
                self._handshake_error = KeyRefusedError(
                    f"the backend at {self.address} " + ("does not use CURVE keys but this client does" if with_keys
                                                         else "requires CURVE keys and this client has none"),
                    NO_KEYS_HINT if with_keys else NEEDS_KEYS_HINT)
            elif event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL and self._server_public_key is not None:
                self._handshake_error = KeyRefusedError(
                    f"the backend at {self.address} failed the CURVE handshake with this client", SERVER_KEY_HINT)
            elif event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                # A CURVE backend that spots a client without keys closes the connection at once; the reset
                # often discards its greeting before this side reads it, so no PROTOCOL event comes, only this.
                self._handshake_error = KeyRefusedError(
                    f"the backend at {self.address} ended the handshake: it likely requires CURVE keys and this "
                    "client has none", NEEDS_KEYS_HINT)
        return self._handshake_error

    def _fail_on_refusal(self) -> list[ClientEvent]:
        """A refused handshake fails the live jobs at once (there is nothing to wait for)."""
        error = self._read_handshake_events()
        if error is None:
            return []
        events = []
        for job in self._jobs.values():
            if not job.done:
                self._fail(job, error)
                events.append(ClientEvent("error", job, error.to_dict()))
        self._backlog.extend(events)
        return events

    # ---- sending --------------------------------------------------------------------------------------
    def _send(self, msg_type: str, job: str, payload: dict) -> None:
        if self._socket is None:
            raise BackendUnavailableError("this client is closed", "create a new BackendClient")
        if self.token is not None:
            payload = {**payload, "token": self.token}
        data = protocol.encode_message(msg_type, job, payload)
        if len(data) > protocol.MAX_MESSAGE_BYTES:
            raise TooLargeError(f"the {msg_type} request is {len(data):,} bytes, above the limit of "
                                f"{protocol.MAX_MESSAGE_BYTES:,}", "send shorter audio or a smaller image")
        try:
            self._socket.send(data, self._zmq.NOBLOCK, copy=len(data) < 65536)
        except self._zmq.Again:
            raise self._unavailable("its queue is full") from None
        self._last_heartbeat_sent = time.monotonic()  # any message shows the backend we are here

    def _send_heartbeat(self) -> None:
        """Tell the backend we still wait for our live jobs (it cancels those of a silent client)."""
        if (self._socket is None or time.monotonic() - self._last_heartbeat_sent < self._heartbeat_interval_s
                or all(job.done for job in self._jobs.values())):
            return
        try:
            self._send("heartbeat", None, {})
        except MaceError:
            pass  # a full queue: the liveness check reports a backend that stopped reading

    def _request(self, msg_type: str, job: str | None = None, payload: dict | None = None) -> dict:
        """Send a request and wait for its reply (matched by token); raises the backend's error."""
        token = job or protocol.new_job_id()
        if self._read_handshake_events() is not None:
            self._reopen_socket()  # the keys may have been fixed since: try a fresh handshake
        self._awaited[token] = None
        try:
            self._send(msg_type, token, payload or {})
            deadline = time.monotonic() + self.timeout_s
            while self._awaited[token] is None:
                remaining = deadline - time.monotonic()
                refused = self._read_handshake_events()
                if remaining <= 0 or refused is not None:
                    error = refused or self._unavailable(f"no reply to {msg_type}")
                    self._reopen_socket()
                    raise error
                self._receive(min(remaining, 0.05))
            reply = self._awaited[token]
        finally:
            self._awaited.pop(token, None)
        if reply.type == "error":
            raise error_from_dict(reply.payload)
        return reply.payload

    # ---- receiving ------------------------------------------------------------------------------------
    def _receive(self, timeout_s: float) -> list[ClientEvent]:
        """Wait up to ``timeout_s`` for messages, handle all that are there, return their events."""
        events: list[ClientEvent] = []
        self._send_heartbeat()
        if self._socket is None or not self._socket.poll(max(0.0, timeout_s) * 1000):
            return events
        while True:
            try:
                data = self._socket.recv(self._zmq.NOBLOCK)
            except self._zmq.Again:
                break
            self._last_heard = time.monotonic()
            event = self._handle(data)
            if event is not None:
                events.append(event)
        self._backlog.extend(events)
        return events

    def _handle(self, data: bytes) -> ClientEvent | None:
        try:
            envelope = protocol.decode_message(data, expected_types=protocol.SERVER_MESSAGES,
                                               max_bytes=len(data), peer="backend")
        except MaceError as err:  # a backend of another version, or a corrupt message
            token = protocol.peek_job(data)
            logger.warning("unreadable message from the backend: %s", err)
            envelope = protocol.Envelope("error", token, err.to_dict())
        if envelope.type == "heartbeat":
            return None
        token = envelope.job
        if token in self._awaited and envelope.type in ("hello", "status", "cancel", "error"):
            self._awaited[token] = envelope
            if envelope.type in ("hello", "status") or token not in self._jobs:
                return None
        job = self._jobs.get(token) if token is not None else None
        if job is None or job.done:
            return None if envelope.type != "error" else ClientEvent("error", None, envelope.payload)
        self._update_job(job, envelope)
        return ClientEvent(envelope.type, job, envelope.payload)

    def _update_job(self, job: JobHandle, envelope: protocol.Envelope) -> None:
        payload = envelope.payload
        if envelope.type in ("accepted", "progress"):
            job.state = payload.get("state", job.state) if payload.get("state") in ("queued", "running") else job.state
            job.progress = float(payload.get("progress", job.progress) or 0.0)
            job.message = str(payload.get("message") or job.message)
            job.queue_position = payload.get("queue_position")
            if envelope.type == "accepted":
                job.message = "queued"
                timeout = payload.get("client_timeout_s")
                if isinstance(timeout, (int, float)) and timeout > 0:  # beat several times per backend timeout
                    self._heartbeat_interval_s = min(protocol.HEARTBEAT_INTERVAL_S, float(timeout) / 4)
        elif envelope.type == "cancel":
            job.message = "cancelling" if payload.get("state") == "cancelling" else job.message
        elif envelope.type == "status":  # the answer to `fetch`: the job as the backend sees it
            if payload.get("job_state") in ("queued", "running"):
                job.state = payload["job_state"]
                job.progress = float(payload.get("progress") or 0.0)
                job.message = str(payload.get("message") or job.message)
                job.queue_position = payload.get("queue_position")
        elif envelope.type == "result":
            try:
                job.result = self._decode_result(job.kind, payload)
            except MaceError as err:
                self._fail(job, ProtocolError(f"the backend's result could not be read: {err.message}", err.hint))
                return
            job.state, job.progress, job.message, job.queue_position = "done", 1.0, "done", None
        elif envelope.type == "error":
            self._fail(job, error_from_dict(payload))

    @staticmethod
    def _fail(job: JobHandle, error: MaceError) -> None:
        job.error = error
        job.state = "cancelled" if isinstance(error, JobCancelledError) else "failed"
        job.message, job.queue_position = error.message, None

    @staticmethod
    def _decode_result(kind: str, payload: dict) -> MotionResult | ReceivedRender:
        if kind == "generate_motion":
            return MotionResult(
                motion=protocol.motion_from_wire(protocol.get_field(payload, "motion", dict)),
                beats=protocol.decode_array(protocol.get_field(payload, "beats", dict), "beats").astype(np.float64),
                tempo=protocol.get_number(payload, "tempo", 0.0),
                generator=protocol.get_field(payload, "generator", str, ""),
            )
        renderer = protocol.get_field(payload, "renderer", str, "")
        return ReceivedRender(
            video_bytes=protocol.get_field(payload, "video", bytes),
            renderer=renderer,
            frames=protocol.get_field(payload, "frames", int, 0),
            fps=protocol.get_number(payload, "fps", 0.0),
            pose_video_bytes=protocol.get_field(payload, "pose_video", bytes, None),
            made_by=protocol.get_field(payload, "made_by", str, "") or renderer,
        )

    def _check_liveness(self) -> list[ClientEvent]:
        """Fail live jobs the backend has been silent about for ``timeout_s`` (no reply, no heartbeat)."""
        events = []
        now = time.monotonic()
        for job in self._jobs.values():
            if not job.done and now - max(self._last_heard, job.submitted_at) > self.timeout_s:
                self._fail(job, self._unavailable(f"job {job.kind} {job.id[:8]} was {job.state}"))
                events.append(ClientEvent("error", job, job.error.to_dict()))
        self._backlog.extend(events)
        return events

    # ---- public API: information ----------------------------------------------------------------------
    def hello(self) -> protocol.Hello:
        """What the backend is (:class:`~shared.protocol.Hello`: versions, engines, device, capabilities with
        limits, defaults, genres, installed weights, its Ray cluster, and this client's ``token``, kept in
        :attr:`token`). Raises BackendUnavailableError if none answers."""
        info = protocol.Hello.from_wire(self._request("hello"))
        if info.token is not None:
            self.token = info.token
        return info

    def status(self, job: JobHandle | str | None = None) -> protocol.ServerStatus:
        """Queue length and running job kind; with ``job``, also its ``job_state``/progress as the backend sees it."""
        return protocol.ServerStatus.from_wire(self._request("status", None if job is None else getattr(job, "id", job)))

    # ---- public API: non-blocking ---------------------------------------------------------------------
    def submit_generate_motion(self, audio_bytes: bytes, audio_name: str, *, seed: int = 0,
                               genre: str | None = None, duration_s: float | None = None, start_s: float = 0.0,
                               keep: KeepSpec | None = None,
                               sampling: SamplerChoice | None = None) -> JobHandle:
        """Queue a dance for the music in ``audio_bytes`` (any file of ``shared.audio_formats``; the backend
        finds the format from the content, ``audio_name`` names it in messages). ``keep`` asks to regenerate
        only what it does not lock; ``sampling`` picks the Motion Expert's sampler and steps (None: the
        backend's)."""
        payload = {"audio": bytes(audio_bytes), "audio_name": str(audio_name), "seed": int(seed), "genre": genre,
                   "duration_s": duration_s, "start_s": float(start_s),
                   "keep": None if keep is None else keep.to_wire(),
                   "sampling": None if sampling is None else sampling.to_wire()}
        return self._submit("generate_motion", payload)

    def submit_render_video(self, motion: Motion, reference_image_bytes: bytes, *, audio_bytes: bytes | None = None,
                            audio_name: str | None = None, width: int | None = None, height: int | None = None,
                            options: dict | None = None) -> JobHandle:
        """Queue a video of the person in ``reference_image_bytes`` (PNG/JPEG bytes) dancing ``motion``;
        with ``audio_bytes`` the music is muxed in. ``options``: render options by name (``hello()`` lists
        them under capabilities), e.g. ``{"pose_video": True}``; numpy arrays are sent as arrays."""
        payload = {"motion": protocol.motion_to_wire(motion), "reference_image": bytes(reference_image_bytes),
                   "audio": None if audio_bytes is None else bytes(audio_bytes),
                   "audio_name": audio_name, "width": width, "height": height,
                   "options": {key: protocol.encode_array(value) if isinstance(value, np.ndarray) else value
                               for key, value in (options or {}).items()}}
        return self._submit("render_video", payload)

    def _submit(self, kind: str, payload: dict) -> JobHandle:
        if self.token is None and self._server_public_key is None:
            self.hello()  # the token that will own the job
        job = JobHandle(protocol.new_job_id(), kind)
        self._send(kind, job.id, payload)
        self._jobs[job.id] = job
        # Forget old finished jobs so a long Blender session does not grow without bound.
        if len(self._jobs) > MAX_BACKLOG:
            for job_id in [j.id for j in self._jobs.values() if j.done][: len(self._jobs) - MAX_BACKLOG]:
                del self._jobs[job_id]
        return job

    def fetch(self, job_id: str, kind: str) -> JobHandle:
        """Follow a job submitted by an earlier client with this client's :attr:`token` (or CURVE key): its
        progress and its result (kept a while by the backend, even when it ended while nobody listened) come
        here. ``kind``: "generate_motion" or "render_video". Then ``poll``/``wait`` as for a submitted job."""
        if kind not in ("generate_motion", "render_video"):
            raise ValueError(f"kind must be 'generate_motion' or 'render_video', not {kind!r}")
        if self.token is None and self._server_public_key is None:
            raise ProtocolError("this client has no token to fetch with",
                                "create it with the `token` of the client that submitted the job")
        job = JobHandle(job_id, kind, message="fetching")
        self._jobs[job_id] = job
        self._send("fetch", job_id, {})
        return job

    def poll(self) -> list[ClientEvent]:
        """Handle whatever the backend sent, without waiting; returns the events since the last poll
        (including those seen during blocking calls). A backend silent for ``timeout_s`` fails the live jobs
        with BackendUnavailableError (an 'error' event), it does not raise."""
        self._receive(0.0)
        self._fail_on_refusal()
        self._check_liveness()
        events = list(self._backlog)
        self._backlog.clear()
        return events

    def cancel(self, job: JobHandle | str) -> None:
        """Ask the backend to cancel ``job`` (between steps); the job ends 'cancelled' on a later poll/wait."""
        handle = self._jobs.get(getattr(job, "id", job))
        if handle is not None and not handle.done:
            self._send("cancel", handle.id, {})

    # ---- public API: blocking -------------------------------------------------------------------------
    def wait(self, job: JobHandle, timeout_s: float | None = None,
             on_progress: Callable[[JobHandle], None] | None = None):
        """Block until ``job`` ends; returns its result or raises its error (BackendUnavailableError when the
        backend goes silent). ``timeout_s`` bounds the whole wait (TimeoutError, the job keeps running);
        ``on_progress(job)`` is called when its state, progress or message changes."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        seen = None
        while True:
            current = (job.state, job.progress, job.message, job.queue_position)
            if on_progress is not None and current != seen:
                on_progress(job)
            seen = current
            if job.done:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job.kind} {job.id[:8]} is still {job.state} after {timeout_s:g} s")
            self._receive(0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic())))
            self._fail_on_refusal()
            self._check_liveness()
        if job.state == "done":
            return job.result
        raise job.error

    def generate_motion(self, audio_bytes: bytes, audio_name: str, *, timeout_s: float | None = None,
                        on_progress: Callable[[JobHandle], None] | None = None, **submit_args) -> MotionResult:
        """``submit_generate_motion`` + ``wait``; ``submit_args`` are that method's keywords (seed, genre …)."""
        return self.wait(self.submit_generate_motion(audio_bytes, audio_name, **submit_args), timeout_s, on_progress)

    def render_video(self, motion: Motion, reference_image_bytes: bytes, *, timeout_s: float | None = None,
                     on_progress: Callable[[JobHandle], None] | None = None, **submit_args) -> ReceivedRender:
        """``submit_render_video`` + ``wait``; ``submit_args`` are that method's keywords (audio_bytes, width,
        height, the renderer's ``options`` dict …)."""
        return self.wait(self.submit_render_video(motion, reference_image_bytes, **submit_args), timeout_s,
                         on_progress)
