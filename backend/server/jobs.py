"""Jobs and the worker thread that runs them, one at a time.

The server's I/O thread owns the queue and every ``Job``'s ``state``; the worker runs ``job.run(ctx)`` and
sends what the client must see (progress, then one result or error) back to the I/O thread over an inproc
PUSH socket, already encoded, so the I/O thread never waits on compute. The worker also writes the running
job's ``progress``/``message`` (the I/O thread reads them to answer ``status``), watches its ``cancel_event``
and removes its ``workdir`` at the end.

The worker is the server's *executor*. Another executor (``backend.cluster.RayExecutor``) may take its place:
it is built as ``executor(zmq_context, events_endpoint)`` and offers ``start()``, ``submit(job)``, ``stop()``,
``join(timeout)``, ``is_alive()``, ``capacity`` (jobs it runs at once) and ``describe()`` (extra ``hello``
facts, or None); it honours ``job.cancel_event`` and sends the same messages (``PROGRESS_TAG``/``FINAL_TAG``
frames) on its own PUSH socket.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from backend.jobwork import public_error, throttled
from backend.out_of_memory import is_out_of_memory, return_free_memory
from backend.progress import JobContext
from shared import protocol
from shared.errors import JobCancelledError, MaceError, OutOfMemoryError, bug_hint

logger = logging.getLogger(__name__)

# Internal message tags on the worker -> I/O thread pipe.
PROGRESS_TAG = b"progress"
FINAL_TAG = b"final"

# Job folders are named <prefix><pid of the backend>-<random>, so leftovers of a killed backend can be told.
JOB_FOLDER_PREFIX = "mace-dance-job-"


@dataclass(frozen=True)
class ServerLimits:
    """Hard limits checked before a job is queued (defaults: ``shared.protocol``); tests shrink them."""

    max_message_bytes: int = protocol.MAX_MESSAGE_BYTES
    max_audio_bytes: int = protocol.MAX_AUDIO_BYTES
    max_audio_seconds: float = protocol.MAX_AUDIO_SECONDS
    max_frames: int = protocol.MAX_FRAMES
    max_image_bytes: int = protocol.MAX_IMAGE_BYTES
    max_image_pixels: int = protocol.MAX_IMAGE_PIXELS
    max_video_side: int = protocol.MAX_VIDEO_SIDE
    max_queued_jobs: int = protocol.MAX_QUEUED_JOBS
    max_queued_per_client: int = protocol.MAX_QUEUED_PER_CLIENT
    max_client_disk_bytes: int = protocol.MAX_CLIENT_DISK_BYTES

    def to_wire(self) -> dict:
        return dict(self.__dict__)


@dataclass(eq=False)
class Job:
    """One queued or running job of one client.

    ``owner`` is who may see and cancel it: the client's CURVE public key when the backend uses keys, else
    the token its ``hello`` gave it (``ownership``); its messages go wherever the owner last spoke from.
    ``run`` does the work and returns the ``result`` payload; ``workdir`` holds its temporary files
    (``disk_bytes`` of uploads) and is removed when it ends; ``public_names`` maps the names of those files
    to the names the client knows (see :func:`public_error`).
    """

    serial: int
    id: str
    kind: str
    owner: bytes
    run: Callable[[JobContext], dict]
    workdir: Path
    public_names: dict[str, str] = field(default_factory=dict)
    disk_bytes: int = 0
    state: str = "queued"
    progress: float = 0.0
    message: str = "queued"
    cancel_event: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = "the job was cancelled by its client"

    @property
    def key(self) -> tuple[bytes, str]:
        return (self.owner, self.id)

    def cancel(self, reason: str) -> None:
        self.cancel_reason = reason
        self.cancel_event.set()

    def remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def public_error(self, error: MaceError) -> MaceError:
        return public_error(error, self.workdir, self.public_names)


def remove_stale_job_folders(root: Path) -> int:
    """Remove the job folders in ``root`` that belonged to backends no longer running (killed with -9, or a
    crash): their process id, in the folder's name, is gone. Returns how many were removed."""
    pattern = re.compile(re.escape(JOB_FOLDER_PREFIX) + r"(\d+)-")
    removed = 0
    for folder in root.glob(JOB_FOLDER_PREFIX + "*"):
        match = pattern.match(folder.name)
        if match and folder.is_dir() and not _process_exists(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        logger.info("removed %d job folder(s) left behind by stopped backends in %s", removed, root)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process (or a pid we cannot test): leave its folder alone
    return True


def error_for_exception(exc: BaseException, job: Job, device: str = "cpu") -> tuple[str, MaceError]:
    """(final state, wire error) for whatever a job raised; paths of the job folder are never shown."""
    if isinstance(exc, JobCancelledError):
        return "cancelled", JobCancelledError(job.cancel_reason, exc.hint or "submit the job again to redo it")
    if isinstance(exc, MaceError):
        return "failed", job.public_error(exc)
    if is_out_of_memory(exc):
        where = "the GPU" if device.startswith("cuda") else "this machine's memory"
        free = "free the GPU (close other GPU programs), or " if device.startswith("cuda") else ""
        return "failed", job.public_error(OutOfMemoryError(
            f"{job.kind} ran out of {where} ({exc})", f"{free}ask for a shorter clip / smaller video"))
    logger.error("job %s (%s) failed", job.id, job.kind, exc_info=exc)
    return "failed", job.public_error(MaceError(f"{job.kind} failed: {type(exc).__name__}: {exc}",
                                                bug_hint("the traceback from the backend log")))


class JobWorker(threading.Thread):
    """Runs submitted jobs in order on one thread (one GPU job at a time)."""

    capacity = 1

    def __init__(self, context, events_endpoint: str, device: str = "cpu"):
        super().__init__(name="mace-dance-worker", daemon=True)
        self._context = context
        self._device = device
        self._events_endpoint = events_endpoint
        self._inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._push = None

    def submit(self, job: Job) -> None:
        self._inbox.put(job)

    def describe(self) -> dict | None:
        return None  # nothing beyond the server's own ``hello`` facts

    def stop(self) -> None:
        """Finish the current job, then exit."""
        self._inbox.put(None)

    def run(self) -> None:
        import zmq

        self._push = self._context.socket(zmq.PUSH)
        self._push.connect(self._events_endpoint)
        try:
            while (job := self._inbox.get()) is not None:
                self._run_job(job)
        finally:
            self._push.close(linger=0)

    def _run_job(self, job: Job) -> None:
        def send(fraction: float, message: str) -> None:
            payload = {"state": "running", "progress": fraction, "message": job.message, "queue_position": None}
            self._send(PROGRESS_TAG, job, protocol.encode_message("progress", job.id, payload))

        sent = throttled(send)

        def report(fraction: float, message: str) -> None:
            job.progress, job.message = fraction, message or job.message
            sent(fraction, message)

        ctx = JobContext(report=report, is_cancelled=job.cancel_event.is_set)
        started = time.monotonic()
        payload = None
        try:
            ctx.check_cancelled()
            payload = job.run(ctx)
            state, message = "done", protocol.encode_message("result", job.id, payload)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes the job's error reply
            state, error = error_for_exception(exc, job, self._device)
            message = protocol.encode_error(error, job.id)
            if not isinstance(exc, Exception):  # KeyboardInterrupt/SystemExit: reply, then let it go on
                self._finish(job, state, message)
                raise
        self._finish(job, state, message)
        payload = message = None  # the result's bytes are the I/O thread's now; what the job freed goes back
        return_free_memory()
        logger.info("job %s (%s) %s in %.2f s", job.id, job.kind, state, time.monotonic() - started)

    def _finish(self, job: Job, state: str, message: bytes) -> None:
        job.remove_workdir()
        self._send(FINAL_TAG, job, message, state.encode())

    def _send(self, tag: bytes, job: Job, message: bytes, *extra: bytes) -> None:
        self._push.send_multipart([tag, str(job.serial).encode(), *extra, message], copy=len(message) < 65536)
