"""The body of one Ray actor: engines loaded once, jobs run with them, progress pushed to a Ray queue.

A job travels as its ``JobWork`` parts (``backend.server.handlers``): the module-level ``execute`` function,
the typed job of :mod:`backend.jobwork` (whose files are named relative to its folder) and the files of its
folder as bytes, because the actor may live on another machine. The actor writes the files into a fresh
folder of its own and runs ``execute(job, its own engine, ctx, that folder)``: nothing is rewritten, and no
path of the head is ever read. Whatever happens, it returns ``(state, value)``: ``("done", result payload)``
or ``(state, error dict)``; errors travel as ``MaceError.to_dict()`` so nothing depends on pickling
exception classes, and they never show the worker's folder.

A segmented render's checkpoint folder is mirrored to the head's ``SegmentKeeper`` while it runs
(restored before it starts, each finished segment handed over): a retry continues from the last kept
segment on whichever node it lands (``backend.cluster.keeper``).

An actor builds the engines of its roles when it starts (``describe``), on its own device, so missing
weights are found on the worker, where they are used, and reported with the node's id.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from backend.jobwork import checkpoint_folder, public_error, throttled
from backend.progress import JobContext
from backend.server.jobs import error_for_exception
from shared.errors import MaceError, bug_hint

from .keeper import MirroredCheckpoints

logger = logging.getLogger(__name__)

#: Job kinds of the protocol, by the role whose engine runs them.
JOB_KINDS = {"motion": "generate_motion", "video": "render_video"}
#: Progress reports of a worker are merged to at most one per this many seconds (they cross the cluster).
WORKER_PROGRESS_INTERVAL_S = 0.05


@dataclass(frozen=True)
class JobLabel:
    """What ``error_for_exception`` needs to word an error: the job's kind and id, and the client's names
    for the files of its folder (so no error shows the worker's paths)."""

    kind: str
    id: str
    public_names: dict[str, str] = field(default_factory=dict, hash=False)
    cancel_reason: str = "the job was cancelled by its client"
    workdir: Path = Path("<job folder>")

    def public_error(self, error: MaceError) -> MaceError:
        return public_error(error, self.workdir, self.public_names)


def read_folder(folder: Path) -> dict[str, bytes]:
    """The files directly in ``folder`` (a job's inputs) as {name: bytes}."""
    return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir()) if path.is_file()}


class EngineWorker:
    """One worker (a Ray actor; a threaded one, so ``cancel`` arrives while ``run`` works).

    Args:
        engines: ``build(role, device) -> engine`` (e.g. ``backend.jobwork.EngineSpec``).
        roles: the roles this worker serves ("motion", "video"); their engines are built by ``describe``.
        device: the torch device its engines use: "cuda" on a GPU worker (Ray sets CUDA_VISIBLE_DEVICES to
            its GPU), "cpu" otherwise (tests give GPU workers "cpu" too).
        progress: a ``ray.util.queue.Queue`` shared with the executor; events are (token, fraction, message).
        keeper: the head's ``SegmentKeeper`` actor, or None (then a segmented render resumes on this node only).
    """

    def __init__(self, engines, roles: tuple[str, ...], device: str, progress, keeper=None):
        self._engines = engines
        self._roles = tuple(roles)
        self._device = device
        self._progress = progress
        self._keeper = keeper
        self._built: dict[str, Any] = {}
        self._build_lock = threading.Lock()
        self._cancelled: set[str] = set()

    def describe(self) -> dict:
        """Where this worker runs and what it can run, its engines built first: ``error`` holds the
        ``MaceError.to_dict()`` of an engine that cannot be built here (missing weights …), else None."""
        import ray

        context = ray.get_runtime_context()
        error = None
        try:
            for role in self._roles:
                self.engine(role)
        except Exception as exc:  # noqa: BLE001 - whatever stops it, the jobs waiting for it are told why
            error = (exc if isinstance(exc, MaceError) else MaceError(
                f"its engines failed to load: {type(exc).__name__}: {exc}", bug_hint("the worker's log"))).to_dict()
            error["message"] = f"on Ray node {context.get_node_id()[:12]}: {error['message']}"
        return {"pid": os.getpid(), "node": context.get_node_id(), "device": self._device,
                "gpu_ids": [str(gpu) for gpu in ray.get_gpu_ids()],
                "loaded": [str(getattr(engine, "name", role)) for role, engine in self._built.items()],
                "can_run": [JOB_KINDS[role] for role in self._roles], "error": error}

    def engine(self, role: str):
        """This worker's engine for ``role``, built (models loaded as the engine does) once."""
        with self._build_lock:
            if role not in self._built:
                self._built[role] = self._engines.build(role, self._device)
            return self._built[role]

    def cancel(self, token: str) -> None:
        self._cancelled.add(token)

    def run(self, token: str, label: JobLabel, role: str, execute: Callable, request: Any,
            files: dict[str, bytes]) -> tuple[str, Any]:
        """Run one job in a folder of its own holding ``files``; never raises (see the module docstring)."""
        workdir = Path(tempfile.mkdtemp(prefix="mace-dance-ray-job-"))
        label = JobLabel(label.kind, label.id, label.public_names, label.cancel_reason, workdir)
        report = throttled(lambda fraction, message: self._progress.put((token, fraction, message)),
                           WORKER_PROGRESS_INTERVAL_S)
        segments = checkpoint_folder(request)
        mirror = None if segments is None or self._keeper is None else MirroredCheckpoints(self._keeper, segments)

        def job_report(fraction: float, message: str = "") -> None:
            if mirror is not None:
                mirror.ship()  # a segment finished since the last report is kept before the render goes on
            report(fraction, message)

        try:
            report(0.0, "started")  # tells the executor the job left Ray's queue
            for name, data in files.items():
                (workdir / name).write_bytes(data)
            if mirror is not None:
                mirror.restore()  # what a try on another node finished
            ctx = JobContext(report=job_report, is_cancelled=lambda: token in self._cancelled)
            ctx.check_cancelled()
            return "done", execute(request, self.engine(role), ctx, workdir)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the job's error reply
            state, error = error_for_exception(exc, label)
            return state, error.to_dict()
        finally:
            self._cancelled.discard(token)
            shutil.rmtree(workdir, ignore_errors=True)
