"""What a video renderer is asked for and what it returns, plus the output writing every renderer shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import numpy as np

from backend.features.audio import probe_audio
from shared.errors import InvalidInputError
from shared.motion import Motion

from .keypoints import Camera
from .pose_video import STYLES, PoseVideo, PoseVideoOptions
from .reference import (
    CanvasPlacement,
    canvas_placement,
    check_reference_image,
    extend_to_canvas,
    parse_keypoints,
    person_box,
    remove_person,
    warp_to_canvas,
)

if TYPE_CHECKING:
    from .perception import ReferencePerson
from .video_io import CommitOnExit, VideoWriter

logger = logging.getLogger(__name__)

MIN_CANVAS_SIDE = 32

#: Options naming a path on the machine that renders: direct callers only, never taken from a client.
LOCAL_ONLY_OPTIONS = frozenset({"pose_video_path", "side_by_side_path"})


@dataclass
class RenderOptions:
    """Options every renderer understands, checked once when built (each renderer has its own dataclass for
    the rest: :class:`~.puppet.PuppetOptions`, :class:`~.wan_options.WanAnimateOptions`).

    Attributes:
        reference_alpha: (H, W) mask of the person in the reference image (e.g. a PNG's transparency).
        reference_keypoints: the person's keypoints in reference-image pixels: (18|20, 2) in KEYPOINT_NAMES
            order (NaN = unknown) or a name -> [x, y] dict; stored as (20, 2) float64.
        reference_person: which person to animate when the photo shows several, 1 = the largest.
        reference_name: how messages call the reference image (its file name).
        audio_offset_s: seconds into the audio file where the motion starts.
        pose_video, side_by_side: also write the pose video / pose | render side by side beside the output as
            ``<name>_pose.mp4`` / ``<name>_side_by_side.mp4``.
        pose_video_path, side_by_side_path: write them here instead (direct callers only: a server must not
            let a client choose where it writes, see :data:`LOCAL_ONLY_OPTIONS`).
        pose_style: "wan" or "dwpose".
        camera: projection of the motion (a dict of Camera's fields is accepted, as it arrives over the wire).
        hands: draw synthetic hands in the pose video (None = the renderer's default: on for Wan-Animate).

    The output's default size is decided here, once, for every renderer (:meth:`frame_size`): the photo's own
    aspect with its whole content, the long side between :attr:`MIN_LONG_SIDE` and :attr:`MAX_LONG_SIDE`.
    """

    #: Long side of the default frame: photos larger than this are rendered smaller (speed), smaller ones
    #: larger (a video below 720p looks broken in players).
    MAX_LONG_SIDE: ClassVar[int] = 1280
    MIN_LONG_SIDE: ClassVar[int] = 720

    reference_alpha: np.ndarray | None = None
    reference_keypoints: np.ndarray | None = None
    reference_person: int = 1
    reference_name: str = "the reference image"
    audio_offset_s: float = 0.0
    pose_video: bool = False
    side_by_side: bool = False
    pose_video_path: Path | None = None
    side_by_side_path: Path | None = None
    pose_style: str = "wan"
    camera: Camera = field(default_factory=Camera)
    hands: bool | None = None

    def __post_init__(self) -> None:
        if self.reference_alpha is not None:
            alpha = np.asarray(self.reference_alpha)
            if alpha.ndim != 2:
                raise InvalidInputError(f"reference_alpha must be an (H, W) mask, got shape {alpha.shape}")
            self.reference_alpha = (alpha > (0.5 if alpha.dtype.kind == "f" else 127)).astype(np.uint8) * 255
        if self.reference_keypoints is not None:
            self.reference_keypoints = parse_keypoints(self.reference_keypoints)
        person = self.reference_person
        if isinstance(person, bool) or not isinstance(person, (int, np.integer)) or person < 1:
            raise InvalidInputError(f"reference_person must be a whole number >= 1 (1 = the largest), got {person!r}")
        self.reference_name = str(self.reference_name)
        offset = self.audio_offset_s
        if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not (np.isfinite(offset) and offset >= 0):
            raise InvalidInputError(f"audio_offset_s must be a number >= 0, got {offset!r}")
        self.audio_offset_s = float(offset)
        for name in ("pose_video", "side_by_side") + (("hands",) if self.hands is not None else ()):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidInputError(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name in LOCAL_ONLY_OPTIONS:
            if getattr(self, name) is not None:
                setattr(self, name, Path(getattr(self, name)))
        if self.pose_style not in STYLES:
            raise InvalidInputError(f"unknown pose_style {self.pose_style!r}", hint=f"use one of {', '.join(STYLES)}")
        if isinstance(self.camera, dict):
            unknown = set(self.camera) - {"projection", "distance_m", "yaw_deg"}
            if unknown:
                raise InvalidInputError(f"unknown camera fields {sorted(unknown)}", hint="use projection, distance_m, yaw_deg")
            self.camera = Camera(**self.camera)
        if not isinstance(self.camera, Camera):
            raise InvalidInputError(f"camera must be a Camera or a dict, got {type(self.camera).__name__}")


    def frame_size(self, image_shape: tuple[int, ...], width: int | None = None, height: int | None = None,
                   multiple: int = 2, max_pixels: int | None = None) -> tuple[int, int]:
        """The output's (width, height) for a photo of ``image_shape``.

        Both given: used as they are (checked later). One given: the other follows the photo's aspect. None:
        the photo's aspect, long side clamped to [MIN_LONG_SIDE, MAX_LONG_SIDE], and, with ``max_pixels``
        (a renderer's budget, e.g. Wan-Animate's 720p area), no more pixels than that. Computed sides are
        rounded to ``multiple`` (2 for H.264, 16 for Wan-Animate).
        """
        if width is not None and height is not None:
            return int(width), int(height)
        h, w = (int(v) for v in image_shape[:2])
        if width is not None:
            scale = width / w
        elif height is not None:
            scale = height / h
        else:
            scale = float(np.clip(max(h, w), self.MIN_LONG_SIDE, self.MAX_LONG_SIDE)) / max(h, w)
            if max_pixels is not None:
                scale = min(scale, float(np.sqrt(max_pixels / (h * w))))

        def side(value: float) -> int:
            return max(int(round(value / multiple)) * multiple, multiple * int(np.ceil(MIN_CANVAS_SIDE / multiple)))

        return (int(width) if width is not None else side(w * scale),
                int(height) if height is not None else side(h * scale))


COMMON_OPTION_NAMES = tuple(f.name for f in fields(RenderOptions))


def render_option_names(renderer, remote: bool = True) -> list[str]:
    """Every option name ``renderer`` takes in a flat mapping (common + its own); ``remote`` leaves out the
    local-only ones."""
    names = set(COMMON_OPTION_NAMES) | set(getattr(renderer, "OPTION_NAMES", ()))
    return sorted(names - LOCAL_ONLY_OPTIONS if remote else names)


MAX_CAMERA_DISTANCE_M = 1000.0


def check_common_option(key: str, value: Any, field_name: str | None = None,
                        image_size: tuple[int, int] | None = None) -> Any:
    """One :class:`RenderOptions` value as it arrives in a flat mapping (a client's ``options``, a config file),
    checked strictly: wrong types, text numbers, non-finite values and out-of-range values are
    ``InvalidInputError`` naming ``field_name`` (e.g. ``options.camera.yaw_deg``). ``image_size`` = (width,
    height) of the reference image checks ``reference_alpha``'s shape."""
    from shared import protocol

    name = field_name or key
    if isinstance(value, np.bool_):
        value = bool(value)
    if key in ("pose_video", "side_by_side", "hands"):
        return protocol.get_field({key: value}, key, bool, field=name)
    if key == "audio_offset_s":
        return protocol.get_number({key: value}, key, lo=0.0, field=name)
    if key == "reference_person":
        return protocol.get_field({key: value}, key, int, field=name)
    if key == "pose_style":
        style = protocol.get_field({key: value}, key, str, field=name)
        if style not in STYLES:
            raise InvalidInputError(f"`{name}` = {style[:32]!r} is not a pose style", f"use one of {sorted(STYLES)}")
        return style
    if key == "camera":
        if isinstance(value, Camera):
            return value
        camera = protocol.get_field({key: value}, key, dict, field=name)
        unknown = sorted(set(map(str, camera)) - {"projection", "distance_m", "yaw_deg"})
        if unknown:
            raise InvalidInputError(f"`{name}` has unknown fields {unknown}", "use projection, distance_m, yaw_deg")
        checked = {}
        if camera.get("projection") is not None:
            checked["projection"] = protocol.get_field(camera, "projection", str, field=f"{name}.projection")
        if camera.get("distance_m") is not None:
            checked["distance_m"] = protocol.get_number(camera, "distance_m", lo=0.5, hi=MAX_CAMERA_DISTANCE_M,
                                                        field=f"{name}.distance_m")
        if camera.get("yaw_deg") is not None:
            checked["yaw_deg"] = protocol.get_number(camera, "yaw_deg", lo=-360.0, hi=360.0, field=f"{name}.yaw_deg")
        return Camera(**checked)  # its own checks (projection names)
    if key == "reference_keypoints":
        try:
            return parse_keypoints(value)
        except InvalidInputError as exc:
            raise InvalidInputError(f"`{name}`: {exc.message}", exc.hint) from None
        except (TypeError, ValueError) as exc:  # e.g. {"nose": "abc"}: not a pair of numbers
            raise InvalidInputError(f"`{name}` must map keypoint names to [x, y] pixel pairs ({exc})",
                                    "send {name: [x, y]} or a (20, 2) array") from None
    if key == "reference_alpha" and image_size is not None:
        height, width = image_size[1], image_size[0]
        if not isinstance(value, np.ndarray) or value.shape != (height, width):
            shape = getattr(value, "shape", type(value).__name__)
            raise InvalidInputError(f"`{name}` must be an array of the reference image's shape ({height}, {width}), "
                                    f"got {shape}", "send the person mask at the image's size")
    return value


def parse_render_options(values: Mapping, renderer, remote: bool = True, *, field_prefix: str = "",
                         image_size: tuple[int, int] | None = None) -> tuple[RenderOptions, Any]:
    """The one way from a flat mapping of options (a client's ``options``, a config file) to the typed objects a
    :class:`RenderRequest` holds: ``(RenderOptions, the renderer's own options or None)``.

    Unknown names are errors listing what ``renderer`` takes; with ``remote`` the local-only path options are
    refused too. A None value means "the default". Each common value is checked by :func:`check_common_option`
    (errors name ``field_prefix + key``, e.g. ``options.camera``), then by the dataclass it belongs to.
    """
    allowed = set(render_option_names(renderer, remote))
    unknown = sorted(str(key)[:64] for key in values if key not in allowed)
    if unknown:
        raise InvalidInputError(f"unknown render option {', '.join(map(repr, unknown))}",
                                hint=f"options this renderer takes: {', '.join(sorted(allowed))}")  # fmt: skip
    values = {key: value for key, value in values.items() if value is not None}
    common = {key: check_common_option(key, value, f"{field_prefix}{key}", image_size)
              for key, value in values.items() if key in COMMON_OPTION_NAMES}  # fmt: skip
    own = {key: value for key, value in values.items() if key not in COMMON_OPTION_NAMES}
    try:
        options = RenderOptions(**common)
    except TypeError as exc:
        raise InvalidInputError(f"bad render option: {exc}") from exc
    return options, (renderer.request_options(own) if own else None)


def options_from_mapping(cls, values: Mapping):
    """A renderer's options dataclass from a mapping of its field names (unknown names are errors)."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InvalidInputError(f"unknown {cls.__name__} fields {unknown}", hint=f"use {', '.join(sorted(names))}")
    return cls(**values)


@dataclass
class RenderRequest:
    """A video to render.

    Attributes:
        motion: the (edited) dance.
        reference_image: (H, W, 3) uint8 RGB photo of the person to animate.
        audio_path: music to mux in (None = silent video).
        width, height: output size in pixels (even; multiples of 16 for Wan-Animate); None = the photo's own
            frame (:meth:`RenderOptions.frame_size`; one side given, the other follows the photo's aspect).
        fps: output frame rate; None = the motion's (the motion is resampled otherwise).
        out_path: the ``.mp4`` to write.
        options: what every renderer understands (:class:`RenderOptions`).
        renderer_options: the renderer's own options object (its ``OPTIONS`` dataclass, e.g.
            :class:`~.puppet.PuppetOptions`), None = the renderer's defaults.
        checkpoint_dir: where a renderer that works in segments (Wan-Animate) keeps the finished ones, so a
            render that stopped continues from its last complete segment (None = none kept); emptied once
            the video is written.
    """

    motion: Motion
    reference_image: np.ndarray
    audio_path: str | Path | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    out_path: str | Path = "dance.mp4"
    options: RenderOptions = field(default_factory=RenderOptions)
    renderer_options: Any = None
    checkpoint_dir: str | Path | None = None
    _reference: "ReferencePerson | None" = field(default=None, init=False, repr=False, compare=False)
    _plate: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _asked_size: tuple = field(default=(None, None), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._asked_size = (self.width, self.height)
        self.fit_size()

    def fit_size(self, multiple: int = 2, max_pixels: int | None = None) -> None:
        """Work out the sides left to the default (:meth:`RenderOptions.frame_size`) for a renderer that needs
        them to be multiples of ``multiple`` and at most ``max_pixels``; sides the caller gave stay as given."""
        image = self.reference_image
        if not (isinstance(image, np.ndarray) and image.ndim == 3 and isinstance(self.options, RenderOptions)):
            return  # validate() names the problem
        self.width, self.height = self.options.frame_size(image.shape, *self._asked_size, multiple=multiple,
                                                          max_pixels=max_pixels)  # fmt: skip

    def validate(self) -> None:
        """Raise InvalidInputError naming the first unusable field."""
        if not isinstance(self.motion, Motion):
            raise InvalidInputError(f"motion must be a shared.motion.Motion, got {type(self.motion).__name__}")
        for name in ("poses", "trans"):
            if not np.isfinite(getattr(self.motion, name)).all():
                raise InvalidInputError(f"motion {name} contain NaN or Inf", hint="clean the motion before rendering it")
        check_reference_image(self.reference_image)
        if not isinstance(self.options, RenderOptions):
            raise InvalidInputError(f"options must be a RenderOptions, got {type(self.options).__name__}",
                                    hint="build it with parse_render_options() from a dict")  # fmt: skip
        alpha = self.options.reference_alpha
        if alpha is not None and alpha.shape != self.reference_image.shape[:2]:
            raise InvalidInputError(
                f"reference_alpha must have the image's shape {self.reference_image.shape[:2]}, got {alpha.shape}"
            )
        if self.width % 2 or self.height % 2 or min(self.width, self.height) < MIN_CANVAS_SIDE:
            raise InvalidInputError(
                f"output size must be even and at least {MIN_CANVAS_SIDE} pixels, got {self.width}x{self.height}",
                hint="use e.g. 720x1280 (portrait) or 1280x720",
            )
        if self.fps is not None and not (0 < float(self.fps) <= 240):
            raise InvalidInputError(f"fps must be in (0, 240], got {self.fps}")
        if self.audio_path is not None:
            probe_audio(self.audio_path)  # unreadable music fails here, not after minutes of rendering
        if Path(self.out_path).suffix.lower() != ".mp4":
            raise InvalidInputError(f"the output must be an .mp4 file, got {self.out_path}")

    def options_for(self, cls):
        """``renderer_options`` as the renderer's ``cls`` (its defaults when None)."""
        if self.renderer_options is None:
            return cls()
        if not isinstance(self.renderer_options, cls):
            raise InvalidInputError(f"renderer_options must be a {cls.__name__} for this renderer, "
                                    f"got {type(self.renderer_options).__name__}")  # fmt: skip
        return self.renderer_options

    @property
    def output_fps(self) -> float:
        return float(self.fps) if self.fps is not None else float(self.motion.fps)

    def timed_motion(self) -> Motion:
        """The motion at the output frame rate."""
        if abs(self.output_fps - self.motion.fps) < 1e-6:
            return self.motion
        return self.motion.resample(self.output_fps)

    def extra_output_path(self, name: str) -> Path | None:
        """Where to write the optional ``pose_video`` / ``side_by_side`` output, or None if not asked for."""
        explicit = getattr(self.options, f"{name}_path")
        if explicit:
            return Path(explicit)
        if getattr(self.options, name):
            out = Path(self.out_path)
            return out.with_name(f"{out.stem}_{name}.mp4")
        return None

    def reference_person(self) -> "ReferencePerson":
        """Who to animate in the reference photo (found once per request; see :mod:`.perception`)."""
        if self._reference is None:
            from .perception import analyse_reference

            options = self.options
            self._reference = analyse_reference(self.reference_image, options.reference_alpha,
                                                options.reference_keypoints, person=options.reference_person,
                                                name=options.reference_name)  # fmt: skip
        return self._reference

    def canvas_reference(self, zoom: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> "CanvasReference":
        """The reference person placed on the output canvas (``zoom``/``shift`` as in :func:`canvas_placement`):
        the photo fills the canvas, cropped around the person when the canvas's aspect differs."""
        person = self.reference_person()
        placement = canvas_placement(self.reference_image.shape, self.width, self.height, zoom, shift,
                                     focus=person_box(person.mask))  # fmt: skip
        if "legs" in person.cut_off and zoom >= 1.0:
            # A waist-up photo stands on the canvas's bottom edge, so the cut is not in mid-air.
            bottom = placement.offset[1] + placement.scale * self.reference_image.shape[0]
            placement = CanvasPlacement(placement.scale, placement.offset + (0.0, float(np.floor(self.height - bottom))))
        if self._plate is None:  # the inpainting is the costly part and does not depend on the placement
            self._plate = remove_person(self.reference_image, person.mask)
        background = extend_to_canvas(self._plate, placement, self.width, self.height)
        image = background.copy()
        inside = warp_to_canvas(np.ones(self.reference_image.shape[:2], np.uint8), placement, self.width, self.height) > 0
        image[inside] = warp_to_canvas(self.reference_image, placement, self.width, self.height)[inside]
        mask = warp_to_canvas(person.mask.astype(np.float32), placement, self.width, self.height)
        return CanvasReference(image, np.clip(mask, 0.0, 1.0), placement.apply(person.keypoints), background,
                               placement, person)  # fmt: skip

    def pose_video(self, motion: Motion, reference_keypoints: np.ndarray | None, hands: bool = False) -> PoseVideo:
        """The driving pose video of this request, fitted to the reference person when keypoints are known.

        ``hands`` is the default for ``options.hands`` (Wan-Animate was trained on pose videos with hands).
        """
        options = PoseVideoOptions(
            width=self.width, height=self.height, style=self.options.pose_style,
            camera=self.options.camera, reference_keypoints=reference_keypoints,
            hands=hands if self.options.hands is None else bool(self.options.hands),
        )  # fmt: skip
        return PoseVideo(motion, options)


@dataclass
class CanvasReference:
    """The reference person on the output canvas.

    Attributes:
        image: (H, W, 3) uint8 RGB, the photo placed on the canvas, margins filled by the extended backdrop.
        mask: (H, W) float32 soft mask of the person.
        keypoints: (20, 2) canvas pixels (NaN = unknown; points the photo cuts off may lie off the canvas).
        background: (H, W, 3) uint8 RGB, the canvas with the person taken out (what shows where they stood).
        placement: photo pixel -> canvas pixel.
        person: the analysis of the photo (source of the keypoints, people found, parts cut off, notes).
    """

    image: np.ndarray
    mask: np.ndarray
    keypoints: np.ndarray
    background: np.ndarray
    placement: CanvasPlacement
    person: "ReferencePerson"


@dataclass
class RenderResult:
    """A finished render.

    Attributes:
        path: the mp4 written.
        renderer: which path made it: "wan-animate", "wan-animate+mace" or "puppet".
        frames: number of frames.
        fps: frame rate.
        pose_video_path: the pose video, when one was asked for.
        side_by_side_path: the side-by-side video, when one was asked for.
        body: for the puppet renderer, the body that drew the person: "2.5d" or "2d"
            (:class:`~.puppet.PuppetOptions`); None for the others.
    """

    path: Path
    renderer: str
    frames: int
    fps: float
    pose_video_path: Path | None = None
    side_by_side_path: Path | None = None
    body: str | None = None

    @property
    def made_by(self) -> str:
        """What made the video, in words for a summary line: the renderer, or the puppet renderer's body."""
        from .puppet import BODY_WORDS

        return BODY_WORDS.get(self.body or "", self.renderer)


class OutputVideos(CommitOnExit):
    """The mp4s one render writes: the video itself and, on request, the pose video and a side-by-side.

    All of them carry the music and are committed together on a clean exit (atomically, each file), or
    all discarded on an error.
    """

    def __init__(self, request: RenderRequest):
        fps, width, height = request.output_fps, request.width, request.height
        audio = dict(audio_path=request.audio_path, audio_offset_s=request.options.audio_offset_s)
        self.main = VideoWriter(request.out_path, width, height, fps, **audio)
        self.pose = self.side = None
        self.pose_path = request.extra_output_path("pose_video")
        self.side_path = request.extra_output_path("side_by_side")
        try:
            if self.pose_path:
                self.pose = VideoWriter(self.pose_path, width, height, fps, **audio)
            if self.side_path:
                self.side = VideoWriter(self.side_path, 2 * width, height, fps, **audio)
        except BaseException as exc:
            self._abort(exc)
            raise

    def write(self, frame: np.ndarray, pose_frame: np.ndarray | None = None) -> None:
        self.main.write(frame)
        if self.pose is not None and pose_frame is not None:
            self.pose.write(pose_frame)
        if self.side is not None and pose_frame is not None:
            self.side.write(np.concatenate([pose_frame, frame], axis=1))

    @property
    def wants_pose_frames(self) -> bool:
        return self.pose is not None or self.side is not None

    def close(self) -> None:
        for writer in (self.main, self.pose, self.side):
            if writer is not None:
                writer.close()

    def _abort(self, exc: BaseException) -> None:
        for writer in (self.main, self.pose, self.side):
            if writer is not None:
                writer._abort(exc)

    def result(self, renderer: str, frames: int, fps: float, body: str | None = None) -> RenderResult:
        return RenderResult(
            Path(self.main.path), renderer, frames, fps,
            None if self.pose is None else Path(self.pose.path), None if self.side is None else Path(self.side.path),
            body,
        )  # fmt: skip

