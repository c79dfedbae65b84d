"""Request payloads -> prepared work -> result payloads.

``prepare_generate`` and ``prepare_render`` run on the server's admission worker (never its I/O thread):
they check every field and limit, write the uploads to the job's folder and have them decoded in a child
process (``media``: lengths counted while decoding, a crashing decoder costs one reply), and return the
``JobWork`` the worker will run; anything wrong raises a ``shared.errors`` class that becomes the ``error``
reply.

A ``JobWork`` is plain data (the typed job of :mod:`backend.jobwork`, whose files are named relative to the
job's folder) plus a module-level ``execute`` function, so an executor other than the local worker thread
(``backend.cluster``) can run the same work in another process, in its own folder holding the same files,
with its own loaded generator or renderer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from backend.appearance.reference import MIN_REFERENCE_SIDE, probe_reference_image
from backend.appearance.request import MIN_CANVAS_SIDE, RenderOptions, parse_render_options
from backend.features.audio import MIN_DURATION_S
from backend.jobwork import GenerateJob, RenderJob, run_generate, run_render
from backend.motion_generation import MotionRequest
from backend.progress import JobContext
from shared import protocol
from shared.errors import InvalidInputError, TooLargeError
from shared.genres import genre_index
from shared.keep import KeepSpec, regenerated_span
from shared.sampling import SamplerChoice

from .jobs import ServerLimits
from .media import media_checker

MAX_SEED = 2**63 - 1
# How the client's music is called in messages when it sent no name.
DEFAULT_AUDIO_NAME = "the music"


@dataclass(frozen=True)
class JobWork:
    """A checked job: ``execute(request, engine, ctx, folder) -> result payload``; calling it runs it here.

    ``role`` says which engine it needs ("motion": the motion generator, "video": the video renderer);
    ``engine`` is this backend's one. ``request`` is plain, picklable data naming its files relative to the
    job's ``folder``. ``public_names`` maps those file names to the names the client knows them by, so no
    message it receives shows a path of the backend machine.
    """

    role: str
    execute: Callable[[Any, Any, JobContext, Path], dict]
    request: Any
    engine: Any
    folder: Path
    public_names: dict[str, str] = field(default_factory=dict)

    def __call__(self, ctx: JobContext) -> dict:
        return self.execute(self.request, self.engine, ctx, self.folder)


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


def _dance_span(audio: _Audio, start_s: float, duration_s: float | None, keep: KeepSpec | None,
                limits: ServerLimits) -> None:
    """The music a dance is made for: what the generators will plan, checked before the job is queued."""
    if keep is not None:
        kept = keep.motion
        field_name = "keep.motion"
        if kept.duration > limits.max_audio_seconds:
            raise TooLargeError(f"`keep.motion` lasts {kept.duration:.1f} s ({kept.num_frames} frames at "
                                f"{kept.fps:g} fps), above the limit of {limits.max_audio_seconds:g} s per job",
                                "regenerate a shorter selection, or check the motion's frame rate")
        available = audio.duration_s - start_s if start_s < audio.duration_s else None  # else _check_span says so
        duration_s = regenerated_span(keep, duration_s, available_s=available, music=audio.name)
    else:
        field_name = "duration_s" if duration_s is not None else "audio"
    _check_span(audio, start_s, duration_s, limits, start_field="start_s", span_field=field_name)
    span = min(audio.duration_s - start_s, math.inf if duration_s is None else duration_s)
    if span < MIN_DURATION_S:
        raise InvalidInputError(f"only {span:.2f} s of {audio.name} would be danced to ({field_name}); at least "
                                f"{MIN_DURATION_S:g} s is needed", "choose a longer stretch of music")


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
    keep = None if keep_wire is None else KeepSpec.from_wire(keep_wire, max_frames=limits.max_frames)
    sampling_wire = payload.get("sampling")
    sampling = None if sampling_wire is None else SamplerChoice.from_wire(sampling_wire)
    audio = _audio_file(payload, workdir, limits, required=True, max_seconds=start_s + limits.max_audio_seconds)
    _dance_span(audio, start_s, duration_s, keep, limits)
    request = MotionRequest(audio_path=Path(audio.path.name), seed=seed, genre=genre, duration_s=duration_s,
                            start_s=start_s, keep=keep, sampling=sampling)
    return JobWork("motion", run_generate, GenerateJob(request), generator, workdir, {audio.path.name: audio.name})


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
    image_name = "reference.image"
    image_path = workdir / image_name
    image_path.write_bytes(image)
    # The header first (format, size, orientation: cheap), every pixel in a child process last.
    image_size = probe_reference_image(image_path, limits.max_image_pixels, "the reference image")
    if min(image_size) < MIN_REFERENCE_SIDE:
        raise InvalidInputError(f"reference image is too small ({image_size[0]}x{image_size[1]} pixels)",
                                f"use a photo at least {MIN_REFERENCE_SIDE} pixels on each side (ideally 720x1280)")
    width, height = _video_side(payload, "width", limits), _video_side(payload, "height", limits)
    options = protocol.get_field(payload, "options", dict, {})
    if not all(isinstance(key, str) for key in options):
        raise InvalidInputError("`options` keys must be strings", None)
    common, own = _render_options(options, renderer, image_size)
    audio = _audio_file(payload, workdir, limits, required=False,
                        max_seconds=common.audio_offset_s + limits.max_audio_seconds)
    public_names = {}
    if audio is not None:
        _check_span(audio, common.audio_offset_s, motion.duration, limits,
                    start_field="options.audio_offset_s", span_field="motion")
        public_names[audio.path.name] = audio.name
    media_checker().image_size(image_path, limits.max_image_pixels)
    public_names[image_name] = "the reference image"
    request = RenderJob(motion=motion, image_name=image_name, audio_name=None if audio is None else audio.path.name,
                        options=common, renderer_options=own, width=width, height=height,
                        checkpoint_name=workdir.name if getattr(renderer, "KEEPS_SEGMENTS", False) else None)
    return JobWork("video", run_render, request, renderer, workdir, public_names)
