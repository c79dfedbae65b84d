"""Engines for Ray workers in tests: slow, cancellable fakes built inside each worker process (one renders in
resumable segments)."""

from __future__ import annotations

import os
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

    KEEPS_SEGMENTS = True

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


#: Set in a Ray node's environment: a tiny Wan render there stops (until cancelled) at this segment.
STALL_AT_SEGMENT = "MACE_TEST_STALL_AT_SEGMENT"


class StallingRenderer:
    """``renderer`` (a real Wan-Animate renderer), except that on a node whose environment names a segment
    in ``STALL_AT_SEGMENT`` it stops there, once the segments before it are finished and reported, until
    cancelled or killed (a node that dies mid-render, at a moment the test knows)."""

    def __init__(self, renderer):
        self.renderer, self.name = renderer, renderer.name

    def render(self, request, ctx: JobContext | None = None):
        ctx = ctx or JobContext.null()
        stall = os.environ.get(STALL_AT_SEGMENT)

        def report(fraction: float, message: str = "") -> None:
            ctx.report(fraction, message)
            if stall and message.startswith(f"segment {stall}/"):
                while True:
                    time.sleep(0.1)
                    ctx.check_cancelled()

        return self.renderer.render(request, JobContext(report=report, is_cancelled=lambda: ctx.cancelled))


@dataclass(frozen=True)
class TinyWanEngines:
    """``build(role, device)``: the choreography fake for motion, and for video the tiny random Wan-Animate
    of the appearance tests (the same weights in every process), stalling where ``STALL_AT_SEGMENT`` says."""

    def build(self, role: str, device: str):
        if role == "motion":
            return StepGenerator()
        from backend.appearance.wan import WanAnimateRenderer
        from tests.backend.appearance.conftest import build_tiny_wan_animate_pipeline
        from tests.backend.appearance.test_wan_animate import tiny_options

        return StallingRenderer(WanAnimateRenderer(pipeline=build_tiny_wan_animate_pipeline(), options=tiny_options()))
