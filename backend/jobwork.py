"""One path for a job, wherever it runs: the server's worker thread, a Ray actor or a batch row.

* :class:`EngineSpec` builds a motion generator or video renderer from the backend's settings and the one
  typed Wan settings object (:class:`~backend.appearance.wan.WanAnimateOptions`), on the device of the
  process that runs the job.
* :class:`GenerateJob` / :class:`RenderJob` are a job's typed inputs. Their files are named *relative to
  the job's folder*, so a job can move to another machine with its folder's bytes and run there unchanged:
  ``run_generate(job, generator, ctx, folder)`` / ``run_render(job, renderer, ctx, folder)`` return the
  ``result`` payload (the video's bytes, not a path).
* :func:`reference_render_request` loads the reference photo (the one loader) and folds its transparency
  into the options: the one place that happens.
* :func:`throttled` merges progress reports that come faster than a listener wants them.
* :func:`public_error` words an error with the client's names for a job folder's files.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.progress import JobContext, ReportFn
from shared import protocol
from shared.errors import MaceError, bug_hint
from shared.motion import Motion

if TYPE_CHECKING:
    from backend.appearance import RenderRequest
    from backend.appearance.request import RenderOptions
    from backend.appearance.wan_options import WanAnimateOptions
    from backend.config import BackendConfig
    from backend.motion_generation import MotionRequest

ROLES = ("motion", "video")
#: The folder (in the system's temporary folder) of the segment checkpoints of render jobs.
CHECKPOINTS = "mace-dance-segments"
#: Reports closer together than this are merged (a generator may report every frame).
MIN_PROGRESS_INTERVAL_S = 0.05


@dataclass(frozen=True)
class EngineSpec:
    """What to build for each role: ``generator`` ("auto"/"choreographer"/"motion_expert") and ``renderer``
    ("auto"/"puppet"/"wan") with the backend's ``config`` (weights, steps, mocap) and ``wan_options``
    (None = the defaults). ``build(role, device)`` makes the engine on ``device`` ("auto" = the config's)."""

    config: "BackendConfig"
    generator: str = "auto"
    renderer: str = "auto"
    wan_options: "WanAnimateOptions | None" = dataclasses.field(default=None, hash=False)

    def build(self, role: str, device: str | None = None):
        config = dataclasses.replace(self.config, device=device or self.config.device,
                                     motion_generator=self.generator, video_renderer=self.renderer)
        if role == "motion":
            from backend.generators import select_motion_generator

            return select_motion_generator(config)
        if role != "video":
            raise ValueError(f"unknown role {role!r} (one of {ROLES})")
        from backend.appearance import select_renderer

        wan = self.wan_options
        if wan is not None and device is not None:
            wan = dataclasses.replace(wan, device=device)  # each process renders on its own device
        return select_renderer(config, wan_options=wan)


def public_error(error: MaceError, workdir: Path, public_names: dict[str, str]) -> MaceError:
    """``error`` with the paths of the files in ``workdir`` (named in ``public_names`` by their names there)
    replaced by the client's names for them, and the folder itself by ``<job folder>``: a client never learns
    where the backend (or a Ray worker) keeps its files."""
    def scrub(text: str | None) -> str | None:
        if not text:
            return text
        for name, public in public_names.items():
            text = text.replace(str(Path(workdir) / name), public)
        return text.replace(str(workdir), "<job folder>")

    message, hint = scrub(error.message), scrub(error.hint)
    if (message, hint) == (error.message, error.hint):
        return error
    public = type(error).__new__(type(error))  # same class (and code on the wire), new text
    public.__dict__.update(error.__dict__, message=message, hint=hint)
    public.args = (message,)
    return public


def throttled(report: ReportFn, interval_s: float = MIN_PROGRESS_INTERVAL_S) -> ReportFn:
    """``report`` that passes a call only when ``interval_s`` has passed since the last one passed, its
    message changed, or the work is complete (fraction 1)."""
    last = [-float("inf"), None]

    def gated(fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - last[0] < interval_s and message == last[1] and fraction < 1.0:
            return
        last[0], last[1] = now, message
        report(fraction, message)

    return gated


@dataclass(frozen=True)
class GenerateJob:
    """A ``generate_motion`` job: its ``request`` names the music relative to the job's folder."""

    request: "MotionRequest"


@dataclass(frozen=True)
class RenderJob:
    """A ``render_video`` job: the motion, the reference photo and music (files named relative to the job's
    folder; the photo is decoded when the job runs), the output size (None = the renderer's default) and
    the typed options. ``checkpoint_name`` (unique per job; None unless the renderer works in segments)
    names the folder (:func:`checkpoint_folder`) where a segmented render keeps its finished segments: a try
    that follows a killed worker continues from there (on a Ray cluster, on any node: ``backend.cluster.keeper``)."""

    motion: Motion
    image_name: str
    audio_name: str | None
    options: "RenderOptions"
    renderer_options: Any = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    checkpoint_name: str | None = None


def run_generate(job: GenerateJob, generator, ctx: JobContext, folder: Path) -> dict:
    """Dance to ``job`` with ``generator``; returns the ``result`` payload."""
    request = dataclasses.replace(job.request, audio_path=Path(folder) / job.request.audio_path)
    result = generator.generate(request, ctx)
    if not isinstance(result.motion, Motion):
        raise MaceError(f"generator {generator.name!r} returned {type(result.motion).__name__}, not a Motion",
                        bug_hint("this message"))
    return {
        "motion": protocol.motion_to_wire(result.motion),
        "beats": protocol.encode_array(np.asarray(result.beats, dtype=np.float64).ravel()),
        "tempo": float(result.tempo),
        "generator": str(result.generator or generator.name),
    }


def reference_render_request(image_path: Path, *, options: "RenderOptions", width: int | None = None,
                             height: int | None = None, fps: float | None = None, **fields) -> "RenderRequest":
    """A ``RenderRequest`` for the photo at ``image_path``: decoded by the one reference loader, its
    transparency (when it has some and the options give no mask) folded into ``options.reference_alpha``;
    a size or rate left None is the request's default. ``fields``: the other ``RenderRequest`` fields."""
    from backend.appearance import RenderRequest
    from backend.appearance.reference import load_reference_image

    reference = load_reference_image(image_path)
    if reference.alpha is not None and options.reference_alpha is None:
        options = dataclasses.replace(options, reference_alpha=reference.alpha)
    given = {name: value for name, value in (("width", width), ("height", height), ("fps", fps)) if value is not None}
    return RenderRequest(reference_image=reference.rgb, options=options, **given, **fields)


def checkpoint_folder(job) -> Path | None:
    """Where the process that runs ``job`` keeps its finished segments (in its machine's temporary folder),
    or None when ``job`` is not a segmented render."""
    if not isinstance(job, RenderJob) or job.checkpoint_name is None:
        return None
    return Path(tempfile.gettempdir()) / CHECKPOINTS / job.checkpoint_name


def run_render(job: RenderJob, renderer, ctx: JobContext, folder: Path) -> dict:
    """Render ``job`` with ``renderer`` into ``folder``; returns the ``result`` payload (the mp4's bytes)."""
    folder = Path(folder)
    checkpoints = checkpoint_folder(job)
    request = reference_render_request(
        folder / job.image_name, options=job.options, motion=job.motion, out_path=folder / "video.mp4",
        audio_path=None if job.audio_name is None else folder / job.audio_name,
        renderer_options=job.renderer_options, width=job.width, height=job.height, fps=job.fps,
        checkpoint_dir=checkpoints)
    try:
        result = renderer.render(request, ctx)
    except BaseException:  # failed or cancelled: no try follows (a killed process never gets here)
        if checkpoints is not None:
            shutil.rmtree(checkpoints, ignore_errors=True)
        raise
    pose_path = Path(result.pose_video_path) if result.pose_video_path else None
    return {
        "video": Path(result.path).read_bytes(),
        "renderer": str(result.renderer),
        "made_by": result.made_by,
        "frames": int(result.frames),
        "fps": float(result.fps),
        "pose_video": pose_path.read_bytes() if pose_path and pose_path.is_file() else None,
    }
