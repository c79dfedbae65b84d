"""What a video renderer is asked for and what it returns, plus the output writing every renderer shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shared.errors import InvalidInputError
from shared.motion import Motion

from .pose_video import Camera, PoseVideo, PoseVideoOptions
from .reference import (
    CanvasPlacement,
    canvas_placement,
    check_reference_image,
    extend_to_canvas,
    parse_keypoints,
    remove_person,
    warp_to_canvas,
)

if TYPE_CHECKING:
    from .perception import ReferencePerson
from .video_io import CommitOnExit, VideoWriter

logger = logging.getLogger(__name__)

MIN_CANVAS_SIDE = 32

#: Keys of ``RenderRequest.extras`` every renderer understands (renderer-specific ones are listed by each).
COMMON_EXTRAS = {
    "reference_alpha": "(H, W) uint8 mask of the person in the reference image (e.g. a PNG's transparency)",
    "reference_keypoints": "(18|20, 2) pixels in the reference image, KEYPOINT_NAMES order (NaN = unknown), or a "
    "name -> [x, y] dict",
    "reference_person": "which person to animate when the photo shows several: 1 = the largest (default)",
    "reference_name": "how messages call the reference image (e.g. its file name)",
    "audio_offset_s": "seconds into the audio file where the motion starts (default 0)",
    "pose_video": "also write the driving pose video beside out_path as <name>_pose.mp4 (bool)",
    "side_by_side": "also write pose | render side by side beside out_path as <name>_side_by_side.mp4 (bool)",
    "pose_video_path": "write the pose video here instead (direct callers only; servers should not forward it)",
    "side_by_side_path": "write the side-by-side video here instead (direct callers only)",
    "pose_style": "'wan' (default) or 'dwpose'",
    "camera": "a pose_video.Camera (projection, distance, yaw)",
    "hands": "draw synthetic hands in the pose video (bool; default on for Wan-Animate, off otherwise)",
}


@dataclass
class RenderRequest:
    """A video to render.

    Attributes:
        motion: the (edited) dance.
        reference_image: (H, W, 3) uint8 RGB photo of the person to animate.
        audio_path: music to mux in (None = silent video).
        width, height: output size in pixels (even; multiples of 16 for Wan-Animate).
        fps: output frame rate; None = the motion's (the motion is resampled otherwise).
        out_path: the ``.mp4`` to write.
        extras: optional settings, see :data:`COMMON_EXTRAS` and each renderer's ``EXTRAS``.
    """

    motion: Motion
    reference_image: np.ndarray
    audio_path: str | Path | None = None
    width: int = 720
    height: int = 1280
    fps: float | None = None
    out_path: str | Path = "dance.mp4"
    extras: dict = field(default_factory=dict)
    _reference: "ReferencePerson | None" = field(default=None, init=False, repr=False, compare=False)

    def validate(self, renderer_extras: dict | tuple = ()) -> None:
        """Raise InvalidInputError naming the first unusable field (unknown extras are logged and ignored).

        Args:
            renderer_extras: names of the extras the calling renderer reads besides the common ones.
        """
        if not isinstance(self.motion, Motion):
            raise InvalidInputError(f"motion must be a shared.motion.Motion, got {type(self.motion).__name__}")
        for name in ("poses", "trans"):
            if not np.isfinite(getattr(self.motion, name)).all():
                raise InvalidInputError(f"motion {name} contain NaN or Inf", hint="clean the motion before rendering it")
        check_reference_image(self.reference_image)
        if self.width % 2 or self.height % 2 or min(self.width, self.height) < MIN_CANVAS_SIDE:
            raise InvalidInputError(
                f"output size must be even and at least {MIN_CANVAS_SIDE} pixels, got {self.width}x{self.height}",
                hint="use e.g. 720x1280 (portrait) or 1280x720",
            )
        if self.fps is not None and not (0 < float(self.fps) <= 240):
            raise InvalidInputError(f"fps must be in (0, 240], got {self.fps}")
        if self.audio_path is not None and not Path(self.audio_path).is_file():
            raise InvalidInputError(f"music file not found: {self.audio_path}")
        if Path(self.out_path).suffix.lower() != ".mp4":
            raise InvalidInputError(f"the output must be an .mp4 file, got {self.out_path}")
        self.audio_offset_s  # noqa: B018 — validates the value
        unknown = sorted(set(self.extras) - set(COMMON_EXTRAS) - set(renderer_extras))
        if unknown:
            logger.warning("ignoring unknown render options %s", unknown)

    @property
    def output_fps(self) -> float:
        return float(self.fps) if self.fps is not None else float(self.motion.fps)

    def timed_motion(self) -> Motion:
        """The motion at the output frame rate."""
        if abs(self.output_fps - self.motion.fps) < 1e-6:
            return self.motion
        return self.motion.resample(self.output_fps)

    @property
    def audio_offset_s(self) -> float:
        value = self.extras.get("audio_offset_s", 0.0)
        offset = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")
        if not (np.isfinite(offset) and offset >= 0):
            raise InvalidInputError(f"audio_offset_s must be a number >= 0, got {offset}")
        return offset

    def extra_output_path(self, name: str) -> Path | None:
        """Where to write the optional ``pose_video`` / ``side_by_side`` output, or None if not asked for."""
        explicit = self.extras.get(f"{name}_path")
        if explicit:
            return Path(explicit)
        if self.extras.get(name):
            out = Path(self.out_path)
            return out.with_name(f"{out.stem}_{name}.mp4")
        return None

    def reference_person(self) -> "ReferencePerson":
        """Who to animate in the reference photo (found once per request; see :mod:`.perception`)."""
        if self._reference is None:
            from .perception import analyse_reference

            alpha = self.extras.get("reference_alpha")
            if alpha is not None:
                alpha = np.asarray(alpha)
                if alpha.shape != self.reference_image.shape[:2]:
                    raise InvalidInputError(
                        f"reference_alpha must have the image's shape {self.reference_image.shape[:2]}, got {alpha.shape}"
                    )
                alpha = (alpha > (0.5 if alpha.dtype.kind == "f" else 127)).astype(np.uint8) * 255
            keypoints = self.extras.get("reference_keypoints")
            if keypoints is not None:
                keypoints = parse_keypoints(keypoints)
            self._reference = analyse_reference(self.reference_image, alpha, keypoints,
                                                person=int(self.extras.get("reference_person", 1)),
                                                name=str(self.extras.get("reference_name", "the reference image")))  # fmt: skip
        return self._reference

    def canvas_reference(self, zoom: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> "CanvasReference":
        """The reference person placed on the output canvas (``zoom``/``shift`` as in :func:`canvas_placement`)."""
        person = self.reference_person()
        placement = canvas_placement(self.reference_image.shape, self.width, self.height, zoom, shift)
        if "legs" in person.cut_off and zoom >= 1.0:
            # A waist-up photo stands on the canvas's bottom edge, so the cut is not in mid-air.
            bottom = placement.offset[1] + placement.scale * self.reference_image.shape[0]
            placement = CanvasPlacement(placement.scale, placement.offset + (0.0, float(np.floor(self.height - bottom))))
        plate = remove_person(self.reference_image, person.mask)
        background = extend_to_canvas(plate, placement, self.width, self.height)
        image = background.copy()
        inside = warp_to_canvas(np.ones(self.reference_image.shape[:2], np.uint8), placement, self.width, self.height) > 0
        image[inside] = warp_to_canvas(self.reference_image, placement, self.width, self.height)[inside]
        mask = warp_to_canvas(person.mask.astype(np.float32), placement, self.width, self.height)
        return CanvasReference(image, np.clip(mask, 0.0, 1.0), placement.apply(person.keypoints), background,
                               placement, person)  # fmt: skip

    @property
    def camera(self) -> Camera:
        """``extras["camera"]`` as a Camera (a dict of its fields is accepted, as it arrives over the wire)."""
        camera = self.extras.get("camera")
        if camera is None:
            return Camera()
        if isinstance(camera, dict):
            unknown = set(camera) - {"projection", "distance_m", "yaw_deg"}
            if unknown:
                raise InvalidInputError(f"unknown camera fields {sorted(unknown)}", hint="use projection, distance_m, yaw_deg")
            return Camera(**camera)
        if not isinstance(camera, Camera):
            raise InvalidInputError(f"camera must be a Camera or a dict, got {type(camera).__name__}")
        return camera

    def pose_video(self, motion: Motion, reference_keypoints: np.ndarray | None, hands: bool = False) -> PoseVideo:
        """The driving pose video of this request, fitted to the reference person when keypoints are known.

        ``hands`` is the default for ``extras["hands"]`` (Wan-Animate was trained on pose videos with hands).
        """
        options = PoseVideoOptions(
            width=self.width, height=self.height, style=self.extras.get("pose_style", "wan"),
            camera=self.camera, reference_keypoints=reference_keypoints,
            hands=bool(self.extras.get("hands", hands)),
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
    """

    path: Path
    renderer: str
    frames: int
    fps: float
    pose_video_path: Path | None = None
    side_by_side_path: Path | None = None


class OutputVideos(CommitOnExit):
    """The mp4s one render writes: the video itself and, on request, the pose video and a side-by-side.

    All of them carry the music and are committed together on a clean exit (atomically, each file), or
    all discarded on an error.
    """

    def __init__(self, request: RenderRequest):
        fps, width, height = request.output_fps, request.width, request.height
        audio = dict(audio_path=request.audio_path, audio_offset_s=request.audio_offset_s)
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

    def result(self, renderer: str, frames: int, fps: float) -> RenderResult:
        return RenderResult(
            Path(self.main.path), renderer, frames, fps,
            None if self.pose is None else Path(self.pose.path), None if self.side is None else Path(self.side.path),
        )  # fmt: skip

