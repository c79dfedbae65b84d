"""The body of one Ray actor: engines loaded once, jobs run with them, progress pushed to a Ray queue.

A job travels as its ``JobWork`` parts (``backend.server.handlers``): the module-level ``execute`` function,
the typed request (plain data) and the files of its folder as bytes, because the actor may live on another
machine. The actor writes the files into its own temporary folder, points the request's paths there, and
runs ``execute(request, its own engine, ctx)``. Whatever happens, it returns ``(state, value)``: ``("done",
result payload)`` or ``(state, error dict)``; errors travel as ``MaceError.to_dict()`` so nothing depends on
pickling exception classes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from backend.config import BackendConfig
from backend.progress import JobContext
from backend.server.jobs import MIN_PROGRESS_INTERVAL_S, error_for_exception

logger = logging.getLogger(__name__)

ROLES = ("motion", "video")


@dataclass(frozen=True)
class ConfiguredEngines:
    """Builds a worker's engines from the backend's settings: ``build(role, device)``.

    ``generator``/``renderer`` are the head's resolved choices ("choreographer"/"motion_expert",
    "puppet"/"wan"), so every worker runs the engine the ``hello`` announced.
    """

    config: BackendConfig
    generator: str
    renderer: str
    #: WanAnimateOptions fields from the serve flags (``backend.cli._wan``); the device is each worker's own.
    renderer_options: dict = dataclasses.field(default_factory=dict, hash=False)

    def build(self, role: str, device: str):
        config = dataclasses.replace(self.config, device=device, motion_generator=self.generator,
                                     video_renderer=self.renderer)
        if role == "motion":
            from backend.generators import select_motion_generator

            return select_motion_generator(config)
        from backend.appearance import select_renderer

        return select_renderer(config, **{k: v for k, v in self.renderer_options.items() if k != "device"})


def relocate_paths(request: Any, old_root: Path, new_root: Path) -> Any:
    """A copy of the dataclass ``request`` whose ``Path`` fields under ``old_root`` point under ``new_root``."""
    changes = {}
    for field in dataclasses.fields(request):
        value = getattr(request, field.name)
        if isinstance(value, Path) and value.is_relative_to(old_root):
            changes[field.name] = new_root / value.relative_to(old_root)
    return dataclasses.replace(request, **changes)


def read_folder(folder: Path) -> dict[str, bytes]:
    """The files directly in ``folder`` (a job's inputs) as {name: bytes}."""
    return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir()) if path.is_file()}


@dataclass(frozen=True)
class JobLabel:
    """What ``error_for_exception`` needs to word an error: the job's kind and id."""

    kind: str
    id: str
    cancel_reason: str = "the job was cancelled by its client"


class EngineWorker:
    """One worker (a Ray actor; a threaded one, so ``cancel`` arrives while ``run`` works).

    Args:
        engines: ``build(role, device) -> engine``, called once per role, the first time a job needs it.
        device: "cuda" for a GPU worker (Ray sets CUDA_VISIBLE_DEVICES to its GPU), "cpu" otherwise.
        progress: a ``ray.util.queue.Queue`` shared with the executor; events are (token, fraction, message).
    """

    def __init__(self, engines, device: str, progress):
        self._engines = engines
        self._device = device
        self._progress = progress
        self._built: dict[str, Any] = {}
        self._build_lock = threading.Lock()
        self._cancelled: set[str] = set()

    def describe(self) -> dict:
        import ray

        context = ray.get_runtime_context()
        return {"pid": os.getpid(), "node": context.get_node_id(), "device": self._device,
                "gpu_ids": [str(gpu) for gpu in ray.get_gpu_ids()]}

    def engine(self, role: str):
        """This worker's engine for ``role``, built (and its models loaded lazily) once."""
        with self._build_lock:
            if role not in self._built:
                self._built[role] = self._engines.build(role, self._device)
            return self._built[role]

    def cancel(self, token: str) -> None:
        self._cancelled.add(token)

    def run(self, token: str, label: JobLabel, role: str, execute: Callable, request: Any, old_root: str,
            files: dict[str, bytes]) -> tuple[str, Any]:
        """Run one job; never raises (see the module docstring)."""
        workdir = Path(tempfile.mkdtemp(prefix="mace-dance-ray-job-"))
        last = [0.0]

        def report(fraction: float, message: str) -> None:
            now = time.monotonic()
            if now - last[0] < MIN_PROGRESS_INTERVAL_S and fraction < 1.0:
                return
            last[0] = now
            self._progress.put((token, fraction, message))

        try:
            report(0.0, "started")  # tells the executor the job left Ray's queue
            for name, data in files.items():
                (workdir / name).write_bytes(data)
            request = relocate_paths(request, Path(old_root), workdir)
            ctx = JobContext(report=report, is_cancelled=lambda: token in self._cancelled)
            ctx.check_cancelled()
            return "done", execute(request, self.engine(role), ctx)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the job's error reply
            state, error = error_for_exception(exc, label)
            return state, error.to_dict()
        finally:
            self._cancelled.discard(token)
            shutil.rmtree(workdir, ignore_errors=True)
