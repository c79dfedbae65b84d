"""The backend's ZeroMQ ROUTER loop: requests in, replies, progress and heartbeats out.

One I/O thread owns the ROUTER socket, the queue and every job's life cycle (``state``: queued -> running ->
finished). It never computes: jobs run on the executor (``JobWorker``'s thread, or
``backend.cluster.RayExecutor`` for ``serve --ray``) and come back as already-encoded messages
over an inproc pipe, so ``hello``, ``status``, ``cancel`` and heartbeats are answered at once even while a
job keeps the GPU busy. What crosses threads outside that pipe: the worker writes the running job's
``progress`` and ``message`` (single attribute stores, read by ``status``; a read one report late is harmless)
and removes its ``workdir`` when it ends; a cancel reaches the worker through the job's ``cancel_event``.
Requests are decoded within ``shared.protocol``'s limits and checked completely before a job is queued, so a
hostile or careless message costs one quick error reply; each client holds at most its share of the queue
and of the temporary disk, and the jobs of a client silent for ``client_timeout_s`` are cancelled.

The I/O thread never decodes a large message, writes an upload or reads media: that is admission's work
(``admission``: a bounded worker; media are decoded in child processes, ``media``), and the thread measures
its own longest stretch between two polls (``io_longest_gap_s``, also in ``status``). Jobs belong to their
owner, not to a connection (``ownership``): progress and results go where the owner last spoke from.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import zmq

import backend
from shared import protocol
from shared.errors import BackendUnavailableError, InvalidInputError, JobCancelledError, KeyRefusedError, MaceError
from shared.errors import NotFoundError, ProtocolError, TooLargeError, bug_hint
from shared.genres import GENRES

from backend.appearance.request import render_option_names

from .admission import ADMITTED_TAG, INLINE_DECODE_BYTES, Admission, Ticket
from .handlers import prepare_generate, prepare_render
from .jobs import FINAL_TAG, JOB_FOLDER_PREFIX, PROGRESS_TAG, Job, JobWorker, ServerLimits, remove_stale_job_folders
from .media import media_checker
from .ownership import Owners
from .security import AuthorizedKeys, CurveKeys, check_bind_allowed, make_curve_server, start_authenticator

logger = logging.getLogger(__name__)

# How long the loop sleeps at most between checks of the stop flag.
STOP_CHECK_INTERVAL_S = 0.1
# Finished jobs remembered per backend, so a late ``cancel``/``status`` gets a meaningful answer.
FINISHED_JOBS_REMEMBERED = 1024
SHUTDOWN_LINGER_MS = 2000


@dataclass(frozen=True)
class Peer:
    """Who sent a request: ``route`` (the ROUTER identity frames its replies go to) and, with CURVE, the
    client's public key (Z85) ZAP admitted; the owner of its jobs comes from that key or its token
    (``ownership.Owners.owner``)."""

    route: tuple[bytes, ...]
    curve_key: bytes | None = None


class BackendServer:
    """Serves ``generate_motion`` / ``render_video`` jobs from injected generators to many clients.

    Args:
        address: ZeroMQ endpoint to bind (``tcp://127.0.0.1:0`` picks a free port; see ``endpoint``).
        motion_generator: object with ``name`` and ``generate(MotionRequest, ctx) -> MotionResult``.
        video_renderer: object with ``name`` and ``render(RenderRequest, ctx) -> RenderResult``, or None.
        curve_keys: required for any non-loopback ``address``: clients must hold an allow-listed key.
        limits: hard limits checked before work starts.
        device: shown in ``hello`` (e.g. "cuda", "cpu").
        client_timeout_s: a client silent this long (no request, no ``heartbeat``) has its jobs cancelled.
        shutdown_grace_s: how long a stop waits for the running job to notice its cancellation.
        work_root: where job folders are made (the system's temporary folder by default); folders a killed
            backend left there are removed at start.
        executor: ``executor(zmq_context, events_endpoint)`` builds what runs the jobs (see ``jobs``); default
            ``JobWorker``: one job at a time on a thread of this process.
    """

    def __init__(
        self,
        address: str = protocol.DEFAULT_ADDRESS,
        *,
        motion_generator,
        video_renderer=None,
        curve_keys: CurveKeys | None = None,
        limits: ServerLimits | None = None,
        device: str = "cpu",
        heartbeat_interval_s: float = protocol.HEARTBEAT_INTERVAL_S,
        client_timeout_s: float = protocol.CLIENT_TIMEOUT_S,
        shutdown_grace_s: float = 10.0,
        work_root: str | Path | None = None,
        executor: Callable | None = None,
        installed_weights: dict | None = None,
    ):
        check_bind_allowed(address, curve_keys)
        self.installed_weights = dict(installed_weights or {})  # backend.weights.installed_summary, for `hello`
        self.address = address
        self.motion_generator = motion_generator
        self.video_renderer = video_renderer
        self.curve_keys = curve_keys
        self.limits = limits or ServerLimits()
        self.device = device
        self.heartbeat_interval_s = heartbeat_interval_s
        self.client_timeout_s = client_timeout_s
        self.shutdown_grace_s = shutdown_grace_s
        self.work_root = Path(work_root) if work_root else None
        self.endpoint: str | None = None  # the bound endpoint, known once serving
        self._make_executor = executor or functools.partial(JobWorker, device=device)

        self._stop_requested = threading.Event()
        self._bound = threading.Event()
        self._bind_error: BaseException | None = None
        self._thread: threading.Thread | None = None

        self._queue: collections.deque[Job] = collections.deque()
        self._running: dict[int, Job] = {}  # by serial; at most the executor's capacity
        self._jobs: dict[tuple[bytes, str], Job] = {}  # live (queued or running) jobs by (owner, job id)
        self._last_heard: dict[bytes, float] = {}  # owners of live jobs -> when they last sent anything
        self._authorized: AuthorizedKeys | None = None  # with CURVE: the allow-list, reloaded when it changes
        self._by_serial: dict[int, Job] = {}
        self._finished: collections.OrderedDict[tuple[bytes, str], str] = collections.OrderedDict()
        self._owners = Owners(with_keys=curve_keys is not None)
        self._admitting: dict[tuple[bytes, str], int] = {}  # jobs being admitted -> the disk they will take
        self.io_longest_gap_s = 0.0  # the longest the I/O loop went without polling (see _loop)
        self._next_serial = 0
        self._stopping_since: float | None = None
        self._handlers: dict[str, Callable[[tuple[bytes, ...], protocol.Envelope], None]] = {
            "hello": self._on_hello,
            "status": self._on_status,
            "generate_motion": self._on_job,
            "render_video": self._on_job,
            "cancel": self._on_cancel,
            "fetch": self._on_fetch,
            "heartbeat": self._on_client_heartbeat,
        }

    # ---- lifecycle ------------------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> str:
        """Serve on a background thread; returns the bound endpoint once the socket is bound."""
        self._thread = threading.Thread(target=self._serve_in_thread, name="mace-dance-server", daemon=True)
        self._thread.start()
        if not self._bound.wait(timeout_s):
            raise BackendUnavailableError(f"the backend did not bind {self.address} within {timeout_s:g} s", None)
        if self._bind_error is not None:
            raise self._bind_error
        return self.endpoint

    def _serve_in_thread(self) -> None:
        try:
            self.serve_forever()
        except MaceError:
            if self._bind_error is None:
                raise
            # else: start() raises it in the caller's thread

    def request_stop(self) -> None:
        """Ask the loop to shut down gracefully (safe from signal handlers and other threads)."""
        self._stop_requested.set()

    def stop(self, timeout_s: float | None = None) -> None:
        """``request_stop`` and wait for a ``start``-ed server to finish."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> "BackendServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Bind and serve on the calling thread until ``request_stop``; then cancel jobs and reply to all.

        ``on_ready(endpoint)`` is called once the socket is bound (e.g. to print where it listens).
        """
        self._context = zmq.Context()
        auth = None
        try:
            try:
                auth = self._bind()
            except BaseException as exc:
                self._bind_error = exc if isinstance(exc, MaceError) else BackendUnavailableError(
                    f"cannot bind {self.address}: {exc}", "is another backend already using this port?")
                raise self._bind_error from exc
            finally:
                self._bound.set()
            if on_ready is not None:
                on_ready(self.endpoint)
            self._loop()
        finally:
            self._close(auth)

    def _bind(self):
        self._router = self._context.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.MAXMSGSIZE, self.limits.max_message_bytes)
        self._router.setsockopt(zmq.LINGER, SHUTDOWN_LINGER_MS)
        self._router.setsockopt(zmq.SNDHWM, 10_000)
        auth = None
        if self.curve_keys is not None:
            auth = start_authenticator(self._context, self.curve_keys)
            self._authorized = AuthorizedKeys(auth, self.curve_keys.authorized_clients)
            make_curve_server(self._router, self.curve_keys)
        address = self.address
        if address.startswith("tcp://") and address.endswith(":0"):
            address = address[:-2] + ":*"  # ZeroMQ spells "any free port" as *
        if "[" in address:  # an IPv6 literal such as tcp://[::1]:7557
            self._router.setsockopt(zmq.IPV6, 1)
        self._router.bind(address)
        self.endpoint = self._router.getsockopt_string(zmq.LAST_ENDPOINT)
        # A closed connection frees its routing id for anyone: see ownership.Owners.forget_routes.
        self._disconnects = self._router.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        remove_stale_job_folders(self._job_root())
        events_endpoint = f"inproc://mace-dance-events-{id(self)}"
        self._events = self._context.socket(zmq.PULL)
        self._events.bind(events_endpoint)
        self._worker = self._make_executor(self._context, events_endpoint)
        self._worker.start()
        self._admission = Admission(self._context, events_endpoint)
        media_checker().warm()
        logger.info("backend serving on %s (generator %s, renderer %s, device %s)", self.endpoint,
                    self.motion_generator.name, getattr(self.video_renderer, "name", None), self.device)
        return auth

    def _close(self, auth) -> None:
        admission = getattr(self, "_admission", None)
        if admission is not None:
            admission.close()
        if getattr(self, "_disconnects", None) is not None:
            self._router.disable_monitor()
            self._disconnects.close(linger=0)
        for name in ("_router", "_events"):
            sock = getattr(self, name, None)
            if sock is not None:
                sock.close()
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.stop()
            worker.join(1.0)
        if auth is not None:
            auth.stop()
        if worker is None or not worker.is_alive():
            self._context.term()
        # else: a generator ignoring cancellation still holds its socket; the daemon thread dies with us.
        logger.info("backend stopped")

    # ---- the loop -------------------------------------------------------------------------------------
    def _loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._events, zmq.POLLIN)
        poller.register(self._disconnects, zmq.POLLIN)
        next_heartbeat = time.monotonic() + self.heartbeat_interval_s
        polled = None
        while True:
            now = time.monotonic()
            if polled is not None:  # how long since the last poll returned: what a request waited at most
                self.io_longest_gap_s = max(self.io_longest_gap_s, now - polled)
            if self._stop_requested.is_set() and self._stopping_since is None:
                self._begin_shutdown(now)
            if self._stopping_since is not None and (
                not self._running or now - self._stopping_since > self.shutdown_grace_s
            ):
                self._abandon_running_jobs()
                return
            timeout = min(STOP_CHECK_INTERVAL_S, max(0.0, next_heartbeat - now))
            ready = dict(poller.poll(timeout * 1000))
            polled = time.monotonic()
            if self._disconnects in ready:
                self._note_disconnects()
            if self._events in ready:
                self._drain_worker_events()
            if self._router in ready:
                self._drain_requests()
            if time.monotonic() >= next_heartbeat:
                self._send_heartbeats()
                self._cancel_orphans()
                if self._authorized is not None and self._authorized.reload_if_changed():
                    self._cancel_jobs_of_revoked_keys()
                next_heartbeat = time.monotonic() + self.heartbeat_interval_s

    def _drain_requests(self, max_batch: int = 256) -> None:
        # Bounded so that worker events and heartbeats are never starved by a flood of requests.
        for _ in range(max_batch):
            try:
                frames = self._router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._handle_request(frames)

    def _handle_request(self, frames: list[zmq.Frame]) -> None:
        route, body = tuple(frame.bytes for frame in frames[:-1]), frames[-1].buffer  # (the body is not copied)
        envelope = None
        try:
            if len(route) > 2 or (len(route) == 2 and route[1] != b""):
                route = route[:1]
                raise ProtocolError(f"message has {len(frames) - 1} frames, expected 1",
                                    "send each envelope as a single ZeroMQ frame from a DEALER socket")
            peer = self._peer(route, frames[-1])
            if len(body) >= INLINE_DECODE_BYTES:  # copying it out of the frame alone takes a while: not here
                if len(body) > self.limits.max_message_bytes:
                    raise TooLargeError(f"message of {len(body):,} bytes is above the limit of "
                                        f"{self.limits.max_message_bytes:,} bytes", "send a shorter file")
                self._admission.submit(Ticket("decode", route, len(body), functools.partial(self._decode, body),
                                              {"peer": peer, "frame": frames[-1]}))
                return
            envelope = self._decode(body)
            self._handle_envelope(peer, envelope)
        except MaceError as err:
            job = envelope.job if envelope is not None else protocol.peek_job(body)
            self._send(route, protocol.encode_error(err, job))
        except Exception as exc:  # noqa: BLE001 - a bug must cost one reply, never the server
            logger.exception("unexpected error while handling a request")
            job = envelope.job if envelope is not None else None
            error = MaceError(f"the backend failed on this request: {type(exc).__name__}: {exc}",
                              bug_hint("the traceback from the backend log"))
            self._send(route, protocol.encode_error(error, job))

    def _decode(self, body) -> protocol.Envelope:
        return protocol.decode_message(body, expected_types=protocol.CLIENT_MESSAGES,
                                       max_bytes=self.limits.max_message_bytes, peer="client")

    def _handle_envelope(self, peer: Peer, envelope: protocol.Envelope) -> None:
        """Note who spoke (an owner is reachable where it last spoke from), then handle the request."""
        owner = self._owners.owner(peer.curve_key, envelope.payload, required=False)
        if owner is not None:
            if owner in self._last_heard:
                self._last_heard[owner] = time.monotonic()
            if self._owners.spoke(owner, peer.route):
                self._owner_is_back(owner)
        self._handlers[envelope.type](peer, envelope)

    def _owner(self, peer: Peer, envelope: protocol.Envelope) -> bytes:
        """The owner the request speaks for; raises when it carries no valid token."""
        return self._owners.owner(peer.curve_key, envelope.payload, required=True)

    def _peer(self, route: tuple[bytes, ...], frame: zmq.Frame) -> Peer:
        """The sender; with CURVE the key ZAP admitted (refused once removed from the allow-list)."""
        if self._authorized is None:
            return Peer(route)
        key = frame.get("User-Id").encode("ascii")  # the Z85 public key, as the authenticator names it
        if not self._authorized.allows(key):
            raise KeyRefusedError("the backend refused this client's CURVE key: it is no longer in authorized_clients/",
                                  "ask the backend's administrator to authorise this client's public .key again")
        return Peer(route, key)

    def _send(self, route: tuple[bytes, ...], message: bytes) -> None:
        try:
            self._router.send_multipart([*route, message], zmq.NOBLOCK, copy=len(message) < 65536)
        except zmq.Again:  # the client's queue is full: it is not reading; drop rather than block everyone
            logger.warning("dropped a message to a client that is not reading")

    # ---- requests -------------------------------------------------------------------------------------
    def _on_hello(self, peer: Peer, envelope: protocol.Envelope) -> None:
        info = dataclasses.replace(self.hello_info(), token=self._owners.issue(envelope.payload.get("token")))
        self._send(peer.route, protocol.encode_message("hello", envelope.job, info.to_wire()))

    def _on_client_heartbeat(self, peer: Peer, envelope: protocol.Envelope) -> None:
        """Nothing to answer: hearing from the client (noted for every message) is the point."""

    def hello_info(self) -> protocol.Hello:
        renderer = self.video_renderer
        defaults = {"seed": 0, "fps": 30.0}
        defaults.update(getattr(renderer, "defaults", None) or {})  # e.g. Wan-Animate's model frame rate
        executor = getattr(self, "_worker", None)  # made when the socket is bound
        return protocol.Hello(
            protocol_version=protocol.PROTOCOL_VERSION,
            backend_version=backend.__version__,
            motion_generator=self.motion_generator.name,
            motion_generator_reason=str(getattr(self.motion_generator, "reason", "")),
            video_renderer=getattr(renderer, "name", None),
            device=self.device,
            capabilities=protocol.Capabilities(
                render_video=renderer is not None,
                render_options=() if renderer is None else tuple(render_option_names(renderer)),
                limits=self.limits.to_wire(),
                heartbeat_interval_s=self.heartbeat_interval_s,
                client_timeout_s=self.client_timeout_s,
            ),
            defaults=defaults,
            genres=tuple(GENRES),
            weights=self.installed_weights,
            cluster=executor.describe() if executor is not None else None,  # e.g. the Ray cluster's GPUs
        )

    def _on_status(self, peer: Peer, envelope: protocol.Envelope) -> None:
        status = protocol.ServerStatus(queued=len(self._queue),
                                       running=next((job.kind for job in self._running.values()), None),
                                       stopping=self._stopping_since is not None,
                                       admitting=self._admission.in_flight,
                                       io_longest_gap_ms=round(self.io_longest_gap_s * 1000, 3))
        owner = self._owners.owner(peer.curve_key, envelope.payload, required=False)
        key = (owner, envelope.job)
        job = self._jobs.get(key)
        if job is not None:
            status = dataclasses.replace(status, job_state=job.state, progress=job.progress, message=job.message,
                                         queue_position=self._queue_position(job))
        elif key in self._finished:
            status = dataclasses.replace(status, job_state=self._finished[key])
        self._send(peer.route, protocol.encode_message("status", envelope.job, status.to_wire()))

    def _job_root(self) -> Path:
        return self.work_root if self.work_root is not None else Path(tempfile.gettempdir())

    def _on_job(self, peer: Peer, envelope: protocol.Envelope) -> None:
        """Cheap checks here (id, share of the queue and of the disk); the payload's files are written and
        checked by admission (:meth:`_prepare`), and the job is queued when that is done (:meth:`_admitted`)."""
        if envelope.job is None:
            raise ProtocolError(f"`{envelope.type}` needs a `job` id", "use shared.protocol.new_job_id()")
        owner = self._owner(peer, envelope)
        key = (owner, envelope.job)
        if key in self._jobs or key in self._finished or key in self._admitting:
            raise InvalidInputError(f"job id {envelope.job!r} is already used", "use a fresh id for every job")
        self._check_room(owner, admitted=False)
        disk = _upload_bytes(envelope.payload)
        self._check_disk_quota(owner, disk)
        self._admission.submit(Ticket("prepare", peer.route, disk, functools.partial(self._prepare, envelope),
                                      {"owner": owner, "envelope": envelope, "disk": disk}))
        self._admitting[key] = disk

    def _check_room(self, owner: bytes, *, admitted: bool) -> None:
        """Refuse a job its client's share of the queue, or the queue, has no room for. Before admission,
        the jobs being admitted count as waiting, but for the executor's free places (they may start at
        once); once ``admitted``, the queue itself decides, and a job that starts at once always fits."""
        if self._stopping_since is not None:
            raise BackendUnavailableError("the backend is shutting down", "start it again with `mace-dance serve`")
        mine, waiting = sum(job.owner == owner for job in self._queue), len(self._queue)
        if admitted:
            if not self._queue and len(self._running) < self._worker.capacity:
                return
            slack = 0
        else:
            mine += sum(who == owner for who, _ in self._admitting)
            waiting += len(self._admitting)
            slack = self._worker.capacity
        # Fair share: one client may hold only part of the queue; within that, first come, first served.
        if mine >= self.limits.max_queued_per_client + slack:
            raise TooLargeError(f"this client already has {self.limits.max_queued_per_client} jobs waiting, its "
                                f"share of the queue",
                                "wait for some of them to finish (or cancel some), then submit again")
        if waiting >= self.limits.max_queued_jobs + slack:
            raise TooLargeError(f"the job queue is full ({waiting} jobs waiting)",
                                "wait for some jobs to finish, then submit again")

    def _check_disk_quota(self, owner: bytes, disk: int) -> None:
        """One client's uploads on this machine's disk (live jobs and jobs being admitted) stay in its quota."""
        held = sum(job.disk_bytes for job in self._jobs.values() if job.owner == owner)
        held += sum(size for (who, _), size in self._admitting.items() if who == owner)
        if held + disk > self.limits.max_client_disk_bytes:
            raise TooLargeError(f"this client's uploads would take {held + disk:,} bytes of the backend's disk, "
                                f"above its quota of {self.limits.max_client_disk_bytes:,} bytes "
                                f"(max_client_disk_bytes)", "wait for your earlier jobs to finish, then submit again")

    def _prepare(self, envelope: protocol.Envelope) -> tuple[object, Path]:
        """(On an admission worker.) Write the job's files and check them; returns (work, job folder)."""
        # The folder name carries our process id, so a later backend can tell a dead one's leftovers.
        workdir = Path(tempfile.mkdtemp(prefix=f"{JOB_FOLDER_PREFIX}{os.getpid()}-", dir=self._job_root()))
        try:
            if envelope.type == "generate_motion":
                return prepare_generate(envelope.payload, self.motion_generator, workdir, self.limits), workdir
            return prepare_render(envelope.payload, self.video_renderer, workdir, self.limits), workdir
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def _admission_done(self) -> None:
        for ticket in self._admission.completed():
            if ticket.step == "decode":
                self._decoded(ticket)
            else:
                self._admitted(ticket)

    def _decoded(self, ticket: Ticket) -> None:
        """A large message decoded by admission: handled now, as a small one is on arrival."""
        frame, peer = ticket.context["frame"], ticket.context["peer"]
        try:
            if ticket.error is not None:
                raise ticket.error
            self._handle_envelope(peer, ticket.value)
        except MaceError as err:
            self._send(peer.route, protocol.encode_error(err, protocol.peek_job(frame.buffer)))

    def _admitted(self, ticket: Ticket) -> None:
        """A job whose files admission wrote and checked: queued now, or refused (to its owner)."""
        owner, envelope = ticket.context["owner"], ticket.context["envelope"]
        disk = self._admitting.pop((owner, envelope.job), 0)
        if ticket.error is not None:
            self._refuse_admitted(owner, envelope.job, ticket.error)
            return
        prepared, workdir = ticket.value
        try:
            self._check_room(owner, admitted=True)  # with the queue as it is now
        except MaceError as err:
            shutil.rmtree(workdir, ignore_errors=True)
            self._refuse_admitted(owner, envelope.job, err)
            return
        self._next_serial += 1
        job = Job(self._next_serial, envelope.job, envelope.type, owner, prepared, workdir, prepared.public_names,
                  disk_bytes=disk)
        self._jobs[job.key] = job
        self._by_serial[job.serial] = job
        self._last_heard[owner] = time.monotonic()
        self._queue.append(job)
        self._send_to_owner(owner, protocol.encode_message("accepted", job.id, {
            "state": "queued", "queue_position": len(self._queue) - 1, "client_timeout_s": self.client_timeout_s}))
        self._dispatch()

    def _refuse_admitted(self, owner: bytes, job_id: str, error: MaceError) -> None:
        """A job refused by admission ends as a failed job: its error is kept like any final message."""
        message = protocol.encode_error(error, job_id)
        self._finished[(owner, job_id)] = "failed"
        while len(self._finished) > FINISHED_JOBS_REMEMBERED:
            self._finished.popitem(last=False)
        self._owners.keep_final(owner, job_id, message, delivered=self._send_to_owner(owner, message))

    def _on_cancel(self, peer: Peer, envelope: protocol.Envelope) -> None:
        if envelope.job is None:
            raise ProtocolError("`cancel` needs the `job` id to cancel", None)
        key = (self._owner(peer, envelope), envelope.job)
        job = self._jobs.get(key)
        if job is None:
            if key in self._finished:  # nothing left to cancel; say how it ended
                self._send(peer.route, protocol.encode_message("cancel", envelope.job, {"state": self._finished[key]}))
                return
            raise NotFoundError(f"no job {envelope.job!r} on this backend",
                                "the job may belong to another client or to a backend that was restarted")
        queued = job.state == "queued"
        self._send(peer.route, protocol.encode_message("cancel", job.id,
                                                       {"state": "cancelled" if queued else "cancelling"}))
        self._cancel_job(job, "the job was cancelled by its client" + (" before it started" if queued else ""))

    def _on_fetch(self, peer: Peer, envelope: protocol.Envelope) -> None:
        """A job of this owner, followed from this connection: its state now (``status``), or its final
        message when it has ended and is still kept."""
        if envelope.job is None:
            raise ProtocolError("`fetch` needs the `job` id to fetch", None)
        owner = self._owner(peer, envelope)
        job = self._jobs.get((owner, envelope.job))
        if job is not None:
            self._send(peer.route, protocol.encode_message("status", job.id, {
                "job_state": job.state, "progress": job.progress, "message": job.message,
                "queue_position": self._queue_position(job)}))
            return
        final = self._owners.final(owner, envelope.job)
        if final is None:
            state = self._finished.get((owner, envelope.job))
            raise NotFoundError(f"job {envelope.job!r} " + (f"ended ({state}) and its result is no longer kept"
                                                             if state else "is not a job of this client's token"),
                                "submit the job again" if state else
                                "fetch with the token (or CURVE key) the job was submitted with")
        self._send(peer.route, final)

    def _owner_is_back(self, owner: bytes) -> None:
        """``owner`` speaks again after a connection closed: what it missed goes to its route now."""
        for _job_id, message in self._owners.take_undelivered(owner):
            self._send_to_owner(owner, message)
        for job in self._jobs.values():
            if job.owner == owner:
                self._send_to_owner(owner, self._progress_message(job))

    def _note_disconnects(self) -> None:
        while self._disconnects.poll(0):
            self._disconnects.recv_multipart()
            self._owners.forget_routes()

    def _send_to_owner(self, owner: bytes, message: bytes) -> bool:
        """Send to the connections ``owner`` spoke from; False when it is unreachable until it speaks again."""
        if self._disconnects.poll(0):  # a connection closed: its routing id may be someone else's by now
            self._note_disconnects()
        routes = self._owners.routes(owner)
        for route in routes:
            self._send(route, message)
        return bool(routes)


    def _cancel_job(self, job: Job, reason: str, hint: str | None = None) -> None:
        """A queued job ends at once (its client gets the ``cancelled`` error); a running one is asked to stop
        and ends when its generator next checks."""
        job.cancel(reason)
        if job.state == "queued":
            self._queue.remove(job)
            self._end_job(job, "cancelled", protocol.encode_error(JobCancelledError(reason, hint), job.id))
            job.remove_workdir()
            self._send_queue_positions()
        else:
            job.message = "cancelling"

    def _cancel_orphans(self) -> None:
        """Cancel the jobs of clients silent for ``client_timeout_s``: a vanished client must not hold the GPU."""
        now = time.monotonic()
        owners = {job.owner for job in self._jobs.values()}
        for owner in list(self._last_heard):
            if owner not in owners:
                del self._last_heard[owner]  # only owners of live jobs are watched
            elif now - self._last_heard[owner] > self.client_timeout_s:
                del self._last_heard[owner]
                jobs = [job for job in self._jobs.values() if job.owner == owner and not job.cancel_event.is_set()]
                logger.warning("client silent for %g s: cancelling its %d job(s)", self.client_timeout_s, len(jobs))
                for job in jobs:
                    self._cancel_job(job, f"the job was cancelled because its client sent nothing for "
                                          f"{self.client_timeout_s:g} s", "keep the client running while it waits "
                                                                          "(it sends heartbeats)")

    def _cancel_jobs_of_revoked_keys(self) -> None:
        for job in [job for job in self._jobs.values() if not self._authorized.allows(job.owner)]:
            self._cancel_job(job, "the job was cancelled because its client's CURVE key was removed from "
                                  "authorized_clients/", None)

    # ---- jobs -----------------------------------------------------------------------------------------
    def _queue_position(self, job: Job) -> int | None:
        """Jobs ahead of ``job`` (0 = next to run); None once it runs."""
        return self._queue.index(job) if job.state == "queued" else None

    def _dispatch(self) -> None:
        started = False
        while len(self._running) < self._worker.capacity and self._queue:
            job = self._queue.popleft()
            job.state, job.message = "running", "starting"
            self._running[job.serial] = job
            self._send_to_owner(job.owner, self._progress_message(job))
            self._worker.submit(job)
            started = True
        if started:
            self._send_queue_positions()

    def _send_queue_positions(self) -> None:
        for job in self._queue:
            self._send_to_owner(job.owner, self._progress_message(job))

    def _progress_message(self, job: Job) -> bytes:
        """The job's state as a ``progress`` message (queued: its place in the queue)."""
        if job.state == "queued":
            position = self._queue_position(job)
            return protocol.encode_message("progress", job.id, {
                "state": "queued", "progress": 0.0, "message": f"queued ({position} ahead)", "queue_position": position})
        return protocol.encode_message("progress", job.id, {"state": "running", "progress": job.progress,
                                                            "message": job.message, "queue_position": None})

    def _end_job(self, job: Job, state: str, final_message: bytes) -> None:
        job.state = state
        self._jobs.pop(job.key, None)
        self._by_serial.pop(job.serial, None)
        self._finished[job.key] = state
        while len(self._finished) > FINISHED_JOBS_REMEMBERED:
            self._finished.popitem(last=False)
        delivered = self._send_to_owner(job.owner, final_message)
        self._owners.keep_final(job.owner, job.id, final_message, delivered=delivered)

    def _drain_worker_events(self) -> None:
        while True:
            try:
                frames = self._events.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if frames[0] == ADMITTED_TAG:
                self._admission_done()
                continue
            job = self._by_serial.get(int(frames[1]))
            if job is None:
                continue  # already ended (abandoned at shutdown)
            if frames[0] == PROGRESS_TAG:
                self._send_to_owner(job.owner, frames[-1])
            elif frames[0] == FINAL_TAG:
                self._running.pop(job.serial, None)
                self._end_job(job, frames[2].decode(), frames[-1])
                self._dispatch()

    def _send_heartbeats(self) -> None:
        beat = protocol.encode_message("heartbeat", None, {"queued": len(self._queue),
                                                           "running": bool(self._running)})
        for owner in {job.owner for job in self._jobs.values()}:
            self._send_to_owner(owner, beat)

    # ---- shutdown -------------------------------------------------------------------------------------
    def _begin_shutdown(self, now: float) -> None:
        logger.info("backend shutting down: cancelling %d queued and %d running job(s)", len(self._queue),
                    len(self._running))
        self._stopping_since = now
        reason = "the job was cancelled because the backend is shutting down"
        while self._queue:
            job = self._queue.popleft()
            job.cancel(reason)
            error = JobCancelledError(reason, "start the backend again (`mace-dance serve`) and resubmit")
            self._end_job(job, "cancelled", protocol.encode_error(error, job.id))
            job.remove_workdir()
        for job in self._running.values():
            job.cancel(reason)

    def _abandon_running_jobs(self) -> None:
        """Running jobs ignored their cancellation for the whole grace period: tell their clients anyway."""
        for job in list(self._running.values()):
            logger.warning("job %s did not stop within %.0f s; abandoning it", job.id, self.shutdown_grace_s)
            error = JobCancelledError("the backend shut down before the job could finish",
                                      "start the backend again (`mace-dance serve`) and resubmit")
            self._end_job(job, "cancelled", protocol.encode_error(error, job.id))
        self._running.clear()


def _upload_bytes(payload: dict) -> int:
    """The bytes a job request will put on this machine's disk (its audio and image)."""
    return sum(len(value) for name in ("audio", "reference_image")
               if isinstance(value := payload.get(name), (bytes, bytearray)))


def serve_until_signalled(server: BackendServer, on_ready: Callable[[str], None] | None = None) -> None:
    """Run ``server`` on this (main) thread; SIGINT/SIGTERM stop it gracefully (running job cancelled and
    its client told). A second signal while stopping is ignored: the grace period bounds the wait."""
    previous = {}

    def on_signal(signum, _frame) -> None:
        logger.warning("received %s: stopping", signal.Signals(signum).name)
        server.request_stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, on_signal)
    try:
        server.serve_forever(on_ready)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
