"""Engines for Ray workers in tests: slow, cancellable fakes built inside each worker process (one renders in
resumable segments)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from backend.progress import JobContext
from tests.server.server_fakes import FakeRenderer, StepGenerator


@dataclass(frozen=True)
class StepEngines:
    """``build(role, device)`` for ``RayWorkerPool``: a ``StepGenerator`` of ``steps`` x ``step_s`` seconds."""

    steps: int = 3
    step_s: float = 0.0

    def build(self, role: str, device: str):
        if role != "motion":
            raise AssertionError(f"these tests send no {role} jobs")
        return StepGenerator(steps=self.steps, step_s=self.step_s)


class SegmentRenderer(FakeRenderer):
    """Renders ``segments`` slow segments, keeping each finished one in ``request.checkpoint_dir`` and
    skipping those already kept there (as Wan-Animate does); the "video" says how many were kept from a
    try before."""

    def __init__(self, segments: int, step_s: float):
        super().__init__()
        self.segments, self.step_s = segments, step_s

    def render(self, request, ctx: JobContext | None = None):
        from backend.appearance import RenderResult

        ctx = ctx or JobContext.null()
        folder = Path(request.checkpoint_dir)
        folder.mkdir(parents=True, exist_ok=True)
        kept = 0
        for index in range(self.segments):
            done = folder / f"segment-{index:05d}"
            if done.is_file():
                kept += 1
                continue
            time.sleep(self.step_s)
            ctx.check_cancelled()
            done.write_bytes(b"segment")
            ctx.report((index + 1) / self.segments, f"segment {index + 1}/{self.segments}")
        out_path = Path(request.out_path)
        out_path.write_bytes(b"kept:%d" % kept)
        shutil.rmtree(folder)
        return RenderResult(out_path, self.name, request.motion.num_frames, request.output_fps, None)


@dataclass(frozen=True)
class SegmentEngines:
    """``build(role, device)``: the choreography fake for motion, a ``SegmentRenderer`` for video."""

    segments: int = 40
    step_s: float = 0.1

    def build(self, role: str, device: str):
        return StepGenerator() if role == "motion" else SegmentRenderer(self.segments, self.step_s)
