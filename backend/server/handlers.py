"""Request payloads -> prepared work -> result payloads.

``prepare_generate`` and ``prepare_render`` run on the server's admission worker (never its I/O thread):
they check every field and limit, write the uploads to the job's folder and have them decoded in a child
process (``media``: lengths counted while decoding, a crashing decoder costs one reply), and return the
``JobWork`` the worker will run; anything wrong raises a ``shared.errors`` class that becomes the ``error``
reply.

A ``JobWork`` is plain data (the typed request, whose files lie in the job's folder) plus a module-level
``execute`` function, so an executor other than the local worker thread (``backend.cluster``) can run the
same work in another process with its own loaded generator or renderer.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from backend.appearance import RenderRequest
from backend.appearance.reference import MIN_REFERENCE_SIDE, load_reference_image, probe_reference_image
from backend.appearance.request import (  # noqa: F401 (render_option_names: router, batch)
    MIN_CANVAS_SIDE,
    RenderOptions,
    parse_render_options,
    render_option_names,
)
from backend.features.audio import MIN_DURATION_S
from backend.motion_generation import MotionRequest
from backend.progress import JobContext
from shared import protocol
from shared.errors import InvalidInputError, MaceError, TooLargeError, bug_hint
from shared.genres import genre_index
from shared.motion import Motion

from .jobs import ServerLimits
from .media import media_checker

MAX_SEED = 2**63 - 1
# How the client's music is called in messages when it sent no name.
DEFAULT_AUDIO_NAME = "the music"


@dataclass(frozen=True)
class JobWork:
    """A checked job: ``execute(request, engine, ctx) -> result payload``; calling it runs it here.

    ``role`` says which engine it needs ("motion": the motion generator, "video": the video renderer);
    ``engine`` is this backend's one. ``request`` is plain, picklable data; its paths point into the job's
    folder. ``public_names`` maps the job folder's files to the names the client knows them by, so no message it
    receives shows a path of the backend machine.
    """

    role: str
    execute: Callable[[Any, Any, JobContext], dict]
    request: Any
    engine: Any
    public_names: dict[str, str] = field(default_factory=dict)

    def __call__(self, ctx: JobContext) -> dict:
        return self.execute(self.request, self.engine, ctx)


@dataclass
class RenderJobRequest:
    """A ``render_video`` job's inputs: the reference image file is decoded when the job runs."""

    motion: Motion
    image_path: Path
    audio_path: Path | None
    out_path: Path
    sizes: dict
    options: RenderOptions
    renderer_options: Any = None


@dataclass(frozen=True)
class _Audio:
    path: Path
    name: str  # how messages call it: the client's name quoted, or "the music"
    duration_s: float


def _audio_file(payload: dict, workdir: Path, limits: ServerLimits, *, required: bool,
                max_seconds: float) -> _Audio | None:
    """Write the request's ``audio`` bytes into ``workdir`` and count its length by decoding it (refused past
    ``max_seconds``, the most any span of the request may reach)."""
    audio = protocol.get_field(payload, "audio", bytes) if required else protocol.get_field(payload, "audio", bytes, None)
    if audio is None:
        return None
    if len(audio) > limits.max_audio_bytes:
        raise TooLargeError(f"audio of {len(audio):,} bytes is above the limit of {limits.max_audio_bytes:,} bytes",
                            "send a compressed file (OGG, MP3, FLAC) or a shorter excerpt")
    client_name = protocol.get_field(payload, "audio_name", str, "").strip()
    name = repr(client_name) if client_name else DEFAULT_AUDIO_NAME
    if not audio:
        raise InvalidInputError(f"{name} is empty", "send the bytes of a music file")
    path = workdir / "music"
    path.write_bytes(audio)
    # The decoder tells the format by content: the client's name may have no or a wrong ending.
    return _Audio(path, name, media_checker().audio_duration(path, name, max_seconds))


def _check_span(audio: _Audio, start_s: float, span_s: float | None, limits: ServerLimits, *,
                start_field: str, span_field: str) -> None:
    """``span_s`` seconds of ``audio`` from ``start_s`` (None = to the end) must exist and fit the limits."""
    if start_s >= audio.duration_s:
        raise InvalidInputError(f"`{start_field}` = {start_s:g} s is past the end of {audio.name} "
                                f"({audio.duration_s:.1f} s)", "choose a start inside the music")
    rest = audio.duration_s - start_s
    span = rest if span_s is None else min(span_s, rest)
    if span > limits.max_audio_seconds:
        raise TooLargeError(
            f"{span:.1f} s of music ({span_field}) is above the limit of {limits.max_audio_seconds:g} s per job",
            f"pass duration_s <= {limits.max_audio_seconds:g} or split the music into parts")


def _dance_span(audio: _Audio, start_s: float, duration_s: float | None, keep: protocol.KeepSpec | None,
                limits: ServerLimits) -> None:
    """The music a dance is made for: what the generators will plan, checked before the job is queued."""
    if keep is not None:
        kept = keep.motion
        field_name = "keep.motion"
        if kept.duration > limits.max_audio_seconds:
            raise TooLargeError(f"`keep.motion` lasts {kept.duration:.1f} s ({kept.num_frames} frames at "
                                f"{kept.fps:g} fps), above the limit of {limits.max_audio_seconds:g} s per job",
                                "regenerate a shorter selection, or check the motion's frame rate")
        if duration_s is None:
            duration_s = kept.duration  # the generators regenerate exactly the span being edited
    else:
        field_name = "duration_s" if duration_s is not None else "audio"
    _check_span(audio, start_s, duration_s, limits, start_field="start_s", span_field=field_name)
    span = min(audio.duration_s - start_s, math.inf if duration_s is None else duration_s)
    if span < MIN_DURATION_S:
        raise InvalidInputError(f"only {span:.2f} s of {audio.name} would be danced to ({field_name}); at least "
                                f"{MIN_DURATION_S:g} s is needed", "choose a longer stretch of music")
    if keep is not None and duration_s - span > 0.5 / keep.motion.fps:
        raise InvalidInputError(f"`keep.motion` lasts {duration_s:.2f} s but {audio.name} has only {span:.2f} s "
                                f"after start_s = {start_s:g} s", "start earlier in the music or keep a shorter motion")


def prepare_generate(payload: dict, generator, workdir: Path, limits: ServerLimits) -> JobWork:
    """Check a ``generate_motion`` payload; returns the job's work (``run_generate`` of the request)."""
    seed = protocol.get_field(payload, "seed", int, 0)
    if not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(f"`seed` = {seed} must be within [0, 2**63 - 1]", None)
    genre = protocol.get_field(payload, "genre", str, None)
    genre_index(genre)
    duration_s = protocol.get_number(payload, "duration_s", None, lo=0.0, hi=limits.max_audio_seconds)
    start_s = protocol.get_number(payload, "start_s", 0.0, lo=0.0)
    keep_wire = payload.get("keep")
    keep = None if keep_wire is None else protocol.KeepSpec.from_wire(keep_wire, max_frames=limits.max_frames)
    audio = _audio_file(payload, workdir, limits, required=True, max_seconds=start_s + limits.max_audio_seconds)
    _dance_span(audio, start_s, duration_s, keep, limits)
    request = MotionRequest(audio_path=audio.path, seed=seed, genre=genre, duration_s=duration_s,
                            start_s=start_s, keep=keep)
    return JobWork("motion", run_generate, request, generator, {str(audio.path): audio.name})


def run_generate(request: MotionRequest, generator, ctx: JobContext) -> dict:
    """Dance to ``request`` with ``generator``; returns the ``result`` payload."""
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


def _video_side(payload: dict, name: str, limits: ServerLimits) -> int | None:
    value = protocol.get_field(payload, name, int, None)
    if value is not None and not (MIN_CANVAS_SIDE <= value <= limits.max_video_side and value % 2 == 0):
        raise InvalidInputError(f"`{name}` = {value} must be even and within [{MIN_CANVAS_SIDE}, {limits.max_video_side}]",
                                "ask for a size the renderer can produce (e.g. 720 x 1280)")
    return value


def _render_options(options: dict, renderer, image_size: tuple[int, int]) -> tuple[RenderOptions, Any]:
    """The request's typed options from the client's ``options`` (arrays decoded): only names the renderer
    takes, none naming a path on this machine (a client must never choose where the backend writes), each
    checked by :func:`~backend.appearance.request.parse_render_options` (errors name ``options.<key>``);
    nil means "the default"."""
    decoded = {}
    for key, value in options.items():
        is_array = isinstance(value, dict) and {"dtype", "shape", "data"} <= set(value)
        decoded[key] = protocol.decode_array(value, f"options.{key}", allow_nonfinite=True) if is_array else value
    return parse_render_options(decoded, renderer, remote=True, field_prefix="options.", image_size=image_size)


def prepare_render(payload: dict, renderer, workdir: Path, limits: ServerLimits) -> JobWork:
    """Check a ``render_video`` payload; returns the job's work (``run_render`` of the request)."""
    if renderer is None:
        raise InvalidInputError("this backend has no video renderer", "start it with a renderer configured")
    motion = protocol.motion_from_wire(protocol.get_field(payload, "motion", dict), max_frames=limits.max_frames)
    image = protocol.get_field(payload, "reference_image", bytes)
    if len(image) > limits.max_image_bytes:
        raise TooLargeError(f"reference image of {len(image):,} bytes is above {limits.max_image_bytes:,} bytes",
                            "send a smaller PNG or JPEG")
    image_path = workdir / "reference.image"
    image_path.write_bytes(image)
    # The header first (format, size, orientation: cheap), every pixel in a child process last.
    width, height = probe_reference_image(image_path, limits.max_image_pixels, "the reference image")
    if min(width, height) < MIN_REFERENCE_SIDE:
        raise InvalidInputError(f"reference image is too small ({width}x{height} pixels)",
                                f"use a photo at least {MIN_REFERENCE_SIDE} pixels on each side (ideally 720x1280)")
    sizes = {name: value for name in ("width", "height") if (value := _video_side(payload, name, limits)) is not None}
    options = protocol.get_field(payload, "options", dict, {})
    if not all(isinstance(key, str) for key in options):
        raise InvalidInputError("`options` keys must be strings", None)
    common, own = _render_options(options, renderer, (width, height))
    audio = _audio_file(payload, workdir, limits, required=False,
                        max_seconds=common.audio_offset_s + limits.max_audio_seconds)
    public_names = {}
    if audio is not None:
        _check_span(audio, common.audio_offset_s, motion.duration, limits,
                    start_field="options.audio_offset_s", span_field="motion")
        public_names[str(audio.path)] = audio.name
    media_checker().image_size(image_path, limits.max_image_pixels)
    public_names[str(image_path)] = "the reference image"
    request = RenderJobRequest(motion=motion, image_path=image_path, audio_path=None if audio is None else audio.path,
                               out_path=workdir / "video.mp4", sizes=sizes, options=common,
                               renderer_options=own)
    return JobWork("video", run_render, request, renderer, public_names)


def run_render(job: RenderJobRequest, renderer, ctx: JobContext) -> dict:
    """Render ``job`` with ``renderer``; returns the ``result`` payload (the mp4's bytes)."""
    reference = load_reference_image(job.image_path)
    options = job.options
    if reference.alpha is not None and options.reference_alpha is None:
        options = dataclasses.replace(options, reference_alpha=reference.alpha)
    request = RenderRequest(motion=job.motion, reference_image=reference.rgb, audio_path=job.audio_path,
                            out_path=job.out_path, options=options, renderer_options=job.renderer_options,
                            **job.sizes)
    result = renderer.render(request, ctx)
    pose_path = Path(result.pose_video_path) if result.pose_video_path else None
    return {
        "video": Path(result.path).read_bytes(),
        "renderer": str(result.renderer),
        "frames": int(result.frames),
        "fps": float(result.fps),
        "pose_video": pose_path.read_bytes() if pose_path and pose_path.is_file() else None,
    }
