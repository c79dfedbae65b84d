"""Request payloads -> prepared work -> result payloads.

``prepare_generate`` and ``prepare_render`` run on the I/O thread: they check every field and limit, write
the audio to the job's folder and read media headers, and return the function the worker will run. Nothing
slow happens here; anything wrong raises a ``shared.errors`` class that becomes the ``error`` reply.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Callable

import numpy as np

from backend.appearance import RenderRequest
from backend.appearance.reference import MIN_REFERENCE_SIDE, load_reference_image
from backend.appearance.request import MIN_CANVAS_SIDE, parse_render_options, render_option_names  # noqa: F401 (router)
from backend.generators import MotionRequest
from backend.progress import JobContext
from shared import protocol
from shared.errors import InvalidInputError, MaceError, TooLargeError
from shared.genres import GENRES, genre_index
from shared.motion import Motion

from .jobs import ServerLimits
from .media import check_image_header, probe_audio_duration

MAX_SEED = 2**63 - 1
# Extras that name files on the backend machine: never taken from the wire.

JobFunction = Callable[[JobContext], dict]


def _audio_file(payload: dict, workdir: Path, limits: ServerLimits, *, required: bool) -> tuple[Path, float] | None:
    """Write the request's ``audio`` bytes into ``workdir``; returns (path, duration in seconds)."""
    audio = protocol.get_field(payload, "audio", bytes) if required else protocol.get_field(payload, "audio", bytes, None)
    if audio is None:
        return None
    if len(audio) > limits.max_audio_bytes:
        raise TooLargeError(f"audio of {len(audio):,} bytes is above the limit of {limits.max_audio_bytes:,} bytes",
                            "send a compressed file (OGG, MP3, FLAC) or a shorter excerpt")
    name = protocol.get_field(payload, "audio_name", str, "music")
    if not audio:
        raise InvalidInputError(f"audio {name!r} is empty", "send the bytes of a music file")
    # Keep the extension (decoders sniff by it) but nothing else of a name the client chose.
    suffix = Path(name).suffix.lower()
    path = workdir / ("music" + (suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""))
    path.write_bytes(audio)
    return path, probe_audio_duration(path, name)


def _check_span(duration: float, start_s: float, duration_s: float | None, limits: ServerLimits) -> None:
    if start_s >= duration:
        raise InvalidInputError(f"`start_s` = {start_s:g} s is past the end of the {duration:.1f} s music",
                                "choose a start inside the music")
    span = duration - start_s if duration_s is None else min(duration_s, duration - start_s)
    if span > limits.max_audio_seconds:
        raise TooLargeError(
            f"{span:.1f} s of music is above the limit of {limits.max_audio_seconds:g} s per job",
            f"pass duration_s <= {limits.max_audio_seconds:g} or split the music into parts")


def prepare_generate(payload: dict, generator, workdir: Path, limits: ServerLimits) -> JobFunction:
    """Check a ``generate_motion`` payload; returns the job's work (MotionResult -> ``result`` payload)."""
    seed = protocol.get_field(payload, "seed", int, 0)
    if not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(f"`seed` = {seed} is outside [0, 2**63 - 1]", None)
    genre = protocol.get_field(payload, "genre", str, None)
    try:
        genre_index(genre)
    except ValueError as exc:
        raise InvalidInputError(str(exc), f"choose one of {', '.join(GENRES)} or leave it empty") from None
    duration_s = protocol.get_number(payload, "duration_s", None, lo=1e-3, hi=limits.max_audio_seconds)
    start_s = protocol.get_number(payload, "start_s", 0.0, lo=0.0)
    keep_wire = payload.get("keep")
    keep = None if keep_wire is None else protocol.KeepSpec.from_wire(keep_wire, max_frames=limits.max_frames)
    audio_path, duration = _audio_file(payload, workdir, limits, required=True)
    _check_span(duration, start_s, duration_s, limits)
    request = MotionRequest(audio_path=audio_path, seed=seed, genre=genre, duration_s=duration_s,
                            start_s=start_s, keep=keep)

    def run(ctx: JobContext) -> dict:
        result = generator.generate(request, ctx)
        if not isinstance(result.motion, Motion):
            raise MaceError(f"generator {generator.name!r} returned {type(result.motion).__name__}, not a Motion",
                            "this is a backend bug; please report it")
        return {
            "motion": protocol.motion_to_wire(result.motion),
            "beats": protocol.encode_array(np.asarray(result.beats, dtype=np.float64).ravel()),
            "tempo": float(result.tempo),
            "generator": str(result.generator or generator.name),
        }

    return run


def _video_side(payload: dict, name: str, limits: ServerLimits) -> int | None:
    value = protocol.get_field(payload, name, int, None)
    if value is not None and not (MIN_CANVAS_SIDE <= value <= limits.max_video_side and value % 2 == 0):
        raise InvalidInputError(f"`{name}` = {value} must be even and within [{MIN_CANVAS_SIDE}, {limits.max_video_side}]",
                                "ask for a size the renderer can produce (e.g. 720 x 1280)")
    return value


def _render_options(options: dict, renderer):
    """The request's typed options from the client's ``options`` (arrays decoded): only names the renderer
    takes, and none naming a path on this machine (a client must never choose where the backend writes)."""
    decoded = {}
    for key, value in options.items():
        is_array = isinstance(value, dict) and {"dtype", "shape", "data"} <= set(value)
        decoded[key] = protocol.decode_array(value, f"options.{key}", allow_nonfinite=True) if is_array else value
    return parse_render_options(decoded, renderer, remote=True)


def prepare_render(payload: dict, renderer, workdir: Path, limits: ServerLimits) -> JobFunction:
    """Check a ``render_video`` payload; returns the job's work (RenderResult -> ``result`` payload)."""
    if renderer is None:
        raise InvalidInputError("this backend has no video renderer", "start it with a renderer configured")
    motion = protocol.motion_from_wire(protocol.get_field(payload, "motion", dict), max_frames=limits.max_frames)
    image = protocol.get_field(payload, "reference_image", bytes)
    if len(image) > limits.max_image_bytes:
        raise TooLargeError(f"reference image of {len(image):,} bytes is above {limits.max_image_bytes:,} bytes",
                            "send a smaller PNG or JPEG")
    width, height = check_image_header(image, limits.max_image_pixels)
    if min(width, height) < MIN_REFERENCE_SIDE:
        raise InvalidInputError(f"reference image is too small ({width}x{height} pixels)",
                                f"use a photo at least {MIN_REFERENCE_SIDE} pixels on each side (ideally 720x1280)")
    sizes = {name: value for name in ("width", "height") if (value := _video_side(payload, name, limits)) is not None}
    options = protocol.get_field(payload, "options", dict, {})
    if not all(isinstance(key, str) for key in options):
        raise InvalidInputError("`options` keys must be strings", None)
    common, own = _render_options(options, renderer)
    audio = _audio_file(payload, workdir, limits, required=False)
    if audio is not None:
        _check_span(audio[1], 0.0, motion.duration, limits)
    image_path = workdir / "reference.image"
    image_path.write_bytes(image)

    def run(ctx: JobContext) -> dict:
        reference = load_reference_image(image_path)
        common_options = common
        if reference.alpha is not None and common.reference_alpha is None:
            common_options = dataclasses.replace(common, reference_alpha=reference.alpha)
        request = RenderRequest(motion=motion, reference_image=reference.rgb,
                                audio_path=None if audio is None else audio[0], out_path=workdir / "video.mp4",
                                options=common_options, renderer_options=own, **sizes)
        result = renderer.render(request, ctx)
        pose_path = Path(result.pose_video_path) if result.pose_video_path else None
        return {
            "video": Path(result.path).read_bytes(),
            "renderer": str(result.renderer),
            "frames": int(result.frames),
            "fps": float(result.fps),
            "pose_video": pose_path.read_bytes() if pose_path and pose_path.is_file() else None,
        }

    return run
