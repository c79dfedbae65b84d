"""Pose videos: a motion's skeleton drawn DWPose / Wan-Animate style (the Appearance Expert's driving signal).

The keypoints, camera and framing come from :mod:`.keypoints`; this module draws them:
:func:`draw_pose` — limbs are filled ellipses in 60 % colour, joints full-colour discs on top, black
background, colours and sizes of :data:`WAN_STYLE` (default) or :data:`DWPOSE_STYLE`; optional synthetic open
hands (:func:`synthetic_hands`).

:class:`PoseVideo` ties these together and yields frames lazily (a 40 s clip at 720x1280 would be 3.3 GB as
one array). Colours are RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import cv2
import numpy as np

from shared.errors import InvalidInputError
from shared.motion import Motion
from shared.skeleton import LEFT_HAND, LEFT_WRIST, RIGHT_HAND, RIGHT_WRIST, Skeleton

from .keypoints import (
    CV2_ONE,
    CV2_SHIFT,
    Camera,
    cv2_fixed_point,
    fit_to_canvas,
    fit_to_reference,
    motion_keypoints,
    pelvis_facing,
    project,
)

# --- skeleton style ---------------------------------------------------------------------------------

#: Limbs as (from, to) keypoint pairs; limb i is drawn in colour i. The first 17 are OpenPose's.
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (13, 18), (10, 19),
)  # fmt: skip

#: OpenPose's 18 colours (RGB) followed by Wan-Animate's two foot colours.
COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85), (200, 200, 0), (100, 100, 0),
)  # fmt: skip
#: Keypoint colours: the OpenPose colour of the same index; toes take the colour of their foot limb.
KEYPOINT_COLORS = COLORS[:18] + (COLORS[18], COLORS[19])
LIMB_COLORS = COLORS[:17] + (COLORS[18], COLORS[19])

#: 21-point hand edges (wrist = 0, then 4 points per finger from thumb to little finger).
HAND_EDGES: tuple[tuple[int, int], ...] = tuple(
    edge for finger in range(5) for edge in [(0, 4 * finger + 1)] + [(4 * finger + k, 4 * finger + k + 1) for k in (1, 2, 3)]
)


@dataclass(frozen=True)
class PoseStyle:
    """How a skeleton is drawn.

    Attributes:
        name: "wan" or "dwpose".
        num_keypoints: 20 (with toes) or 18 (COCO only).
        stick_width: half-width of a limb ellipse in pixels; None = Wan-Animate's ``max(min(H, W) // 200 - 1, 1)``.
        joint_radius: joint disc radius in pixels; None = the stick width.
        limb_dim: factor applied to limb colours (joints keep full colour).
        hand_thickness: hand edge thickness; None = ``max(stick_width // 2, 1)``.
        hand_joint_radius: None = the joint radius.
    """

    name: str
    num_keypoints: int
    stick_width: int | None
    joint_radius: int | None
    limb_dim: float = 0.6
    hand_thickness: int | None = None
    hand_joint_radius: int | None = None

    def sizes(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(stick half-width, joint radius, hand thickness, hand joint radius) in pixels for a canvas."""
        stick = self.stick_width if self.stick_width is not None else max(min(height, width) // 200 - 1, 1)
        radius = self.joint_radius if self.joint_radius is not None else stick
        hand = self.hand_thickness if self.hand_thickness is not None else max(stick // 2, 1)
        hand_radius = self.hand_joint_radius if self.hand_joint_radius is not None else radius
        return stick, radius, hand, hand_radius

    @property
    def limbs(self) -> tuple[tuple[int, int], ...]:
        return tuple(limb for limb in LIMBS if max(limb) < self.num_keypoints)


#: Wan-Animate's preprocessing style (``draw_aapose_by_meta_new``): 20 points, thin sticks scaled to the canvas.
WAN_STYLE = PoseStyle(name="wan", num_keypoints=20, stick_width=None, joint_radius=None)
#: DWPose / controlnet_aux style (Animate Anyone, UniAnimate, Champ): 18 points, sticks 4 px, joints 4 px.
DWPOSE_STYLE = PoseStyle(name="dwpose", num_keypoints=18, stick_width=4, joint_radius=4, hand_thickness=2,
                         hand_joint_radius=4)  # fmt: skip
STYLES = {"wan": WAN_STYLE, "dwpose": DWPOSE_STYLE}


# --- drawing ------------------------------------------------------------------------------------------

_ELLIPSE_STEPS = 36
_UNIT_CIRCLE = np.stack(
    [np.cos(np.linspace(0, 2 * np.pi, _ELLIPSE_STEPS, endpoint=False)),
     np.sin(np.linspace(0, 2 * np.pi, _ELLIPSE_STEPS, endpoint=False))], axis=-1,
)  # fmt: skip


def limb_polygons(starts: np.ndarray, ends: np.ndarray, half_width: float) -> np.ndarray:
    """Ellipses around segments, like ``cv2.ellipse2Poly`` per limb but for all limbs at once.

    Args:
        starts, ends: (L, 2) pixels.
    Returns:
        (L, 36, 2) int32 polygon vertices in cv2 fixed point (``shift`` = :data:`CV2_SHIFT`).
    """
    centre = 0.5 * (starts + ends)
    delta = ends - starts
    half_length = 0.5 * np.linalg.norm(delta, axis=-1)
    angle = np.arctan2(delta[:, 1], delta[:, 0])
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    ex = _UNIT_CIRCLE[None, :, 0] * half_length[:, None]
    ey = _UNIT_CIRCLE[None, :, 1] * half_width
    points = np.stack([centre[:, None, 0] + ex * cos - ey * sin, centre[:, None, 1] + ex * sin + ey * cos], -1)
    return cv2_fixed_point(points)


def draw_pose(
    canvas: np.ndarray,
    keypoints: np.ndarray,
    visible: np.ndarray,
    style: PoseStyle = WAN_STYLE,
    hands: np.ndarray | None = None,
) -> np.ndarray:
    """Draw one skeleton onto ``canvas`` in place and return it.

    Args:
        canvas: (H, W, 3) uint8 RGB (normally black).
        keypoints: (K >= style.num_keypoints, 2) pixels.
        visible: (K,) bool; invisible or non-finite points and their limbs are skipped.
        style: colours and sizes.
        hands: optional (2, 21, 2) pixels (left, right) drawn OpenPose-hand style.
    """
    height, width = canvas.shape[:2]
    stick, radius, hand_thickness, hand_radius = style.sizes(height, width)
    ok = np.asarray(visible, dtype=bool) & np.isfinite(keypoints).all(axis=1)
    limbs = [(i, limb) for i, limb in enumerate(style.limbs) if ok[limb[0]] and ok[limb[1]]]
    if limbs:
        starts = keypoints[[a for _, (a, _) in limbs]]
        ends = keypoints[[b for _, (_, b) in limbs]]
        polygons = limb_polygons(starts, ends, stick)
        for (i, _), polygon in zip(limbs, polygons):
            color = tuple(int(c * style.limb_dim) for c in LIMB_COLORS[i])
            cv2.fillConvexPoly(canvas, polygon, color, lineType=cv2.LINE_8, shift=CV2_SHIFT)
    if hands is not None:
        _draw_hands(canvas, hands, hand_thickness, hand_radius)
    fixed = cv2_fixed_point(np.nan_to_num(keypoints), np.int64)
    for k in range(style.num_keypoints):
        if ok[k]:
            cv2.circle(canvas, (int(fixed[k, 0]), int(fixed[k, 1])), radius * CV2_ONE, KEYPOINT_COLORS[k], -1,
                       lineType=cv2.LINE_8, shift=CV2_SHIFT)  # fmt: skip
    return canvas


_HAND_EDGE_COLORS = [
    tuple(int(c) for c in cv2.cvtColor(np.uint8([[[int(180 * i / len(HAND_EDGES)), 255, 255]]]), cv2.COLOR_HSV2RGB)[0, 0])
    for i in range(len(HAND_EDGES))
]
_HAND_JOINT_COLOR = (0, 0, 255)


def _draw_hands(canvas: np.ndarray, hands: np.ndarray, thickness: int, radius: int) -> None:
    for hand in hands:
        if not np.isfinite(hand).all():
            continue
        fixed = cv2_fixed_point(hand, np.int64)
        for (a, b), color in zip(HAND_EDGES, _HAND_EDGE_COLORS):
            cv2.line(canvas, tuple(map(int, fixed[a])), tuple(map(int, fixed[b])), color, thickness, cv2.LINE_8,
                     CV2_SHIFT)  # fmt: skip
        for point in fixed:
            cv2.circle(canvas, tuple(map(int, point)), radius * CV2_ONE, _HAND_JOINT_COLOR, -1, cv2.LINE_8, CV2_SHIFT)


# Finger fans in the wrist -> hand frame: (angle in degrees towards the thumb, distances along the finger
# as multiples of the wrist -> hand-joint length). SMPL's hand joint sits near the knuckles.
_FINGERS = (
    (55.0, (0.35, 0.65, 0.9, 1.15)),
    (14.0, (1.0, 1.4, 1.65, 1.85)),
    (0.0, (1.0, 1.45, 1.72, 1.95)),
    (-12.0, (0.95, 1.35, 1.6, 1.8)),
    (-25.0, (0.85, 1.15, 1.35, 1.5)),
)


def synthetic_hands(wrists: np.ndarray, hand_joints: np.ndarray, thumb_sign: np.ndarray) -> np.ndarray:
    """Open five-finger hands fanned around the wrist -> hand direction, in 2D.

    Args:
        wrists, hand_joints: (T, 2, 2) pixels of (left, right) wrist and SMPL hand joints.
        thumb_sign: (T, 2) +1 or -1: the side (counter-clockwise or clockwise in image space) of the thumb.
    Returns:
        (T, 2, 21, 2) pixels.
    """
    direction = hand_joints - wrists
    angle0 = np.arctan2(direction[..., 1], direction[..., 0])
    length = np.linalg.norm(direction, axis=-1)
    hands = np.empty(wrists.shape[:2] + (21, 2))
    hands[..., 0, :] = wrists
    for f, (angle_deg, distances) in enumerate(_FINGERS):
        angle = angle0 + thumb_sign * np.deg2rad(angle_deg)
        unit = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
        for k, distance in enumerate(distances):
            hands[..., 1 + 4 * f + k, :] = wrists + unit * (length * distance)[..., None]
    return hands


# --- the whole pose video --------------------------------------------------------------------------------


@dataclass
class PoseVideoOptions:
    """Options of a pose video.

    Attributes:
        width, height: canvas in pixels.
        style: "wan" (default) or "dwpose".
        camera: projection and view.
        reference_keypoints: optional (18 or 20, 2) pixels of the reference person on this canvas; the motion
            is then fitted to that person's framing instead of the canvas.
        hands: draw synthetic open hands.
    """

    width: int = 720
    height: int = 1280
    style: str = "wan"
    camera: Camera = field(default_factory=Camera)
    reference_keypoints: np.ndarray | None = None
    hands: bool = False

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise InvalidInputError(f"unknown pose style {self.style!r}", hint=f"use one of {sorted(STYLES)}")
        if self.width < 16 or self.height < 16:
            raise InvalidInputError(f"pose video size must be at least 16x16, got {self.width}x{self.height}")


class PoseVideo:
    """Pixel keypoints of a motion, and frames drawn from them on demand.

    Attributes:
        keypoints: (T, 20, 2) float64 pixels.
        visible: (T, 20) bool.
        hands: (T, 2, 21, 2) pixels or None.
        joints: (T, 24, 3) metres, the FK joints the keypoints came from.
        fit: the plane -> pixel similarity.
    """

    def __init__(self, motion: Motion, options: PoseVideoOptions | None = None, skeleton: Skeleton | None = None):
        self.options = options or PoseVideoOptions()
        camera = self.options.camera
        keypoints3d, self.visible, self.joints = motion_keypoints(motion, skeleton, camera)
        centre = self.joints[:, 0].mean(axis=0)
        plane = project(keypoints3d, camera, centre)
        hand_plane = project(self.joints[:, [LEFT_WRIST, RIGHT_WRIST, LEFT_HAND, RIGHT_HAND]], camera, centre)
        fit_points = np.where(self.visible[..., None], plane, np.nan)
        width, height = self.options.width, self.options.height
        if self.options.reference_keypoints is not None:
            self.fit = fit_to_reference(fit_points, self.options.reference_keypoints, width, height)
        else:
            self.fit = fit_to_canvas(fit_points, width, height)
        self.keypoints = self.fit.apply(plane)
        self.hands = None
        if self.options.hands:
            hand_pixels = self.fit.apply(hand_plane)
            # The thumb points to the dancer's front: on screen that is towards the body's midline for a
            # dancer facing the camera; we flip it with the facing direction of the pelvis.
            front = np.where(pelvis_facing(keypoints3d, camera) >= 0.0, 1.0, -1.0)
            self.hands = synthetic_hands(hand_pixels[:, :2], hand_pixels[:, 2:], front[:, None] * np.array([[-1.0, 1.0]]))

    @property
    def style(self) -> PoseStyle:
        return STYLES[self.options.style]

    def __len__(self) -> int:
        return len(self.keypoints)

    def frame(self, index: int, out: np.ndarray | None = None) -> np.ndarray:
        """Frame ``index`` as (H, W, 3) uint8 RGB (drawn into ``out`` if given)."""
        if out is None:
            out = np.zeros((self.options.height, self.options.width, 3), dtype=np.uint8)
        else:
            out[...] = 0
        hands = None if self.hands is None else self.hands[index]
        return draw_pose(out, self.keypoints[index], self.visible[index], self.style, hands)

    def frames(self) -> Iterator[np.ndarray]:
        """Yield every frame (a fresh array each time, safe to keep)."""
        for index in range(len(self)):
            yield self.frame(index)
