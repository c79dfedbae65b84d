"""SMPL joints -> DWPose / Wan-Animate style skeleton frames (the Appearance Expert's driving signal).

Pipeline, one step per function so each can be tested alone:

1. :func:`smpl_to_body_keypoints` — (T, 24, 3) SMPL joints (+ head rotations) -> (T, 20, 3) body keypoints in
   Wan-Animate order (COCO-18 + left/right toe), nose/eyes/ears synthesised from the head, plus a visibility
   mask (face points facing away from the camera are hidden, as a detector would miss them).
2. :func:`project` — orthographic front view (default) or perspective, after an optional yaw of the view.
   The canonical frame is SMPL Y-up, the dancer faces +Z and +X is the dancer's left; the camera sits on +Z
   looking back at the dancer, so image-right is the dancer's left, as in a photo of someone facing you.
3. :func:`fit_to_canvas` / :func:`fit_to_reference` — one similarity (scale + offset, no rotation) for the
   whole sequence: the canvas fit puts the sequence's bounding box into 72 % x 86 % of the canvas centred at
   (0.5 W, 0.56 H) (MACE-Dance's ``motion_to_pose_video`` framing); the reference fit matches frame 0's limb
   joints to keypoints of the reference person (least squares), then shrinks if the sequence leaves the
   canvas.
4. :func:`draw_pose` — limbs are filled ellipses in 60 % colour, joints full-colour discs on top, black
   background, colours and sizes of :data:`WAN_STYLE` (default) or :data:`DWPOSE_STYLE`.

:class:`PoseVideo` ties these together and yields frames lazily (a 40 s clip at 720x1280 would be 3.3 GB as
one array). Colours are RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal

import cv2
import numpy as np

from shared.errors import InvalidInputError
from shared.kinematics import forward_kinematics, global_rotations
from shared.motion import Motion
from shared.skeleton import (
    HEAD,
    LEFT_ANKLE,
    LEFT_ELBOW,
    LEFT_FOOT,
    LEFT_HAND,
    LEFT_HIP,
    LEFT_KNEE,
    LEFT_SHOULDER,
    LEFT_WRIST,
    RIGHT_ANKLE,
    RIGHT_ELBOW,
    RIGHT_FOOT,
    RIGHT_HAND,
    RIGHT_HIP,
    RIGHT_KNEE,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
    Skeleton,
)

# --- keypoint layout -------------------------------------------------------------------------------------

#: Body keypoints in Wan-Animate order: OpenPose COCO-18, then the two toes.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear", "left_toe", "right_toe",
)  # fmt: skip
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
KP = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
#: The face points a body skeleton has (indices into :data:`KEYPOINT_NAMES`): the head of the puppet's rig and
#: Wan-Animate's face crop are both placed from them.
FACE_KEYPOINTS: tuple[int, ...] = tuple(KP[name] for name in ("nose", "right_eye", "left_eye", "right_ear", "left_ear"))

#: Keypoints copied straight from SMPL joints (keypoint index -> SMPL joint index).
SMPL_FOR_KEYPOINT: dict[int, int] = {
    KP["right_shoulder"]: RIGHT_SHOULDER, KP["right_elbow"]: RIGHT_ELBOW, KP["right_wrist"]: RIGHT_WRIST,
    KP["left_shoulder"]: LEFT_SHOULDER, KP["left_elbow"]: LEFT_ELBOW, KP["left_wrist"]: LEFT_WRIST,
    KP["right_hip"]: RIGHT_HIP, KP["right_knee"]: RIGHT_KNEE, KP["right_ankle"]: RIGHT_ANKLE,
    KP["left_hip"]: LEFT_HIP, KP["left_knee"]: LEFT_KNEE, KP["left_ankle"]: LEFT_ANKLE,
    KP["left_toe"]: LEFT_FOOT, KP["right_toe"]: RIGHT_FOOT,
}  # fmt: skip

#: Joints that align the motion with a reference person: shoulders, hips, knees, ankles. MACE-Dance also uses
#: elbows and wrists, but a dance's first frame rarely holds its arms like the photo does, and arms that
#: differ pull the fitted scale down.
ALIGNMENT_KEYPOINTS: tuple[int, ...] = tuple(KP[f"{side}_{joint}"] for side in ("right", "left")
                                             for joint in ("shoulder", "hip", "knee", "ankle"))  # fmt: skip

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

# Face points in the head joint's frame (metres; +X = the dancer's left, +Y up, +Z forward). SMPL's head joint
# sits near ear height in the middle of the skull.
_FACE_OFFSETS = {
    "nose": (0.0, -0.015, 0.105),
    "right_eye": (-0.032, 0.015, 0.085),
    "left_eye": (0.032, 0.015, 0.085),
    "right_ear": (-0.075, 0.0, -0.01),
    "left_ear": (0.075, 0.0, -0.01),
}
# SMPL hip joints sit inside the pelvis, narrower than the hip keypoints a 2D detector marks: widen them about
# their midpoint (0.12 m -> about 0.22 m apart) so the skeleton looks like the ones Wan-Animate was trained on.
_HIP_WIDENING = 1.8


# --- 1. SMPL -> keypoints --------------------------------------------------------------------------------


def smpl_to_body_keypoints(
    joints: np.ndarray,
    head_rotations: np.ndarray | None = None,
    view_direction: np.ndarray = np.array([0.0, 0.0, 1.0]),
    widen_hips: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Body keypoints of a SMPL motion.

    Args:
        joints: (T, 24, 3) joint positions, metres, Y-up, dancer facing +Z.
        head_rotations: (T, 3, 3) world rotation of the head joint; when None the head frame is built from
            the shoulders (left) and the neck -> head direction (up).
        view_direction: (3,) unit vector from the dancer towards the camera, for face visibility.
        widen_hips: move the hips apart to where 2D detectors put them (see ``_HIP_WIDENING``).
    Returns:
        keypoints: (T, 20, 3) float64, metres, in :data:`KEYPOINT_NAMES` order.
        visible: (T, 20) bool — False for face points turned away from the camera.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (24, 3):
        raise InvalidInputError(f"joints must have shape (T, 24, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise InvalidInputError("joint positions contain NaN or Inf", hint="clean the motion before rendering it")
    num_frames = len(joints)
    keypoints = np.empty((num_frames, NUM_KEYPOINTS, 3))
    for kp_index, joint_index in SMPL_FOR_KEYPOINT.items():
        keypoints[:, kp_index] = joints[:, joint_index]
    keypoints[:, KP["neck"]] = 0.5 * (joints[:, LEFT_SHOULDER] + joints[:, RIGHT_SHOULDER])
    if widen_hips:
        centre = 0.5 * (joints[:, LEFT_HIP] + joints[:, RIGHT_HIP])
        for name in ("left_hip", "right_hip"):
            keypoints[:, KP[name]] = centre + _HIP_WIDENING * (keypoints[:, KP[name]] - centre)

    if head_rotations is None:
        head_rotations = _head_frame_from_joints(joints)
    head = joints[:, HEAD]
    view = np.asarray(view_direction, dtype=np.float64)
    visible = np.ones((num_frames, NUM_KEYPOINTS), dtype=bool)
    facing = head_rotations[:, :, 2] @ view  # (T,) cos of the angle between the face and the view
    sideways = head_rotations[:, :, 0] @ view  # (T,) > 0 when the dancer's left side faces the camera
    for name, offset in _FACE_OFFSETS.items():
        keypoints[:, KP[name]] = head + head_rotations @ np.asarray(offset)
    visible[:, KP["nose"]] = facing > -0.1
    visible[:, KP["left_eye"]] = (facing > -0.1) & (sideways > -0.7)
    visible[:, KP["right_eye"]] = (facing > -0.1) & (sideways < 0.7)
    visible[:, KP["left_ear"]] = sideways > -0.3
    visible[:, KP["right_ear"]] = sideways < 0.3
    return keypoints, visible


def _head_frame_from_joints(joints: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation whose columns are the dancer's left, up and forward at the head."""
    left = joints[:, LEFT_SHOULDER] - joints[:, RIGHT_SHOULDER]
    left /= np.linalg.norm(left, axis=-1, keepdims=True) + 1e-9
    up = joints[:, HEAD] - 0.5 * (joints[:, LEFT_SHOULDER] + joints[:, RIGHT_SHOULDER])
    up -= np.sum(up * left, axis=-1, keepdims=True) * left
    up /= np.linalg.norm(up, axis=-1, keepdims=True) + 1e-9
    forward = np.cross(left, up)
    return np.stack([left, up, forward], axis=-1)


def motion_keypoints(
    motion: Motion, skeleton: Skeleton | None = None, camera: "Camera | None" = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FK a motion and derive its keypoints.

    Returns:
        keypoints: (T, 20, 3) metres; visible: (T, 20) bool; joints: (T, 24, 3) metres (all Y-up).
    """
    camera = camera or Camera()
    rotations = global_rotations(motion.poses, skeleton)
    joints = forward_kinematics(motion.poses, motion.trans, skeleton, rotations=rotations)
    head_rotations = rotations[:, HEAD]
    keypoints, visible = smpl_to_body_keypoints(joints, head_rotations, camera.view_direction())
    return keypoints, visible, joints


# --- 2. projection ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    """A camera in front of the dancer (on +Z, looking towards -Z), before fitting to pixels.

    Attributes:
        projection: "orthographic" (default: limb lengths do not change with depth) or "perspective".
        distance_m: perspective only — distance from the camera to the motion's mean pelvis position.
        yaw_deg: turn the camera about the vertical axis through the motion's centre (positive = towards
            the dancer's left side, 90 = a side view from the dancer's left).
    """

    projection: Literal["orthographic", "perspective"] = "orthographic"
    distance_m: float = 4.0
    yaw_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.projection not in ("orthographic", "perspective"):
            raise InvalidInputError(
                f"camera projection must be 'orthographic' or 'perspective', got {self.projection!r}"
            )
        if not self.distance_m > 0.5:
            raise InvalidInputError(f"camera distance must be > 0.5 m, got {self.distance_m}")

    def _yaw(self) -> np.ndarray:
        a = np.deg2rad(self.yaw_deg)
        return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])

    def view_direction(self) -> np.ndarray:
        """(3,) unit vector from the dancer towards the camera, world frame."""
        return self._yaw() @ np.array([0.0, 0.0, 1.0])


def project(points: np.ndarray, camera: Camera, centre: np.ndarray | None = None) -> np.ndarray:
    """Project world points to the camera plane.

    Args:
        points: (..., 3) metres, Y-up world.
        camera: the view.
        centre: (3,) point the camera looks at (perspective and yaw pivot); default the points' mean.
    Returns:
        (..., 2) float64: x to image-right, y to image-down, in metres at the centre's depth (not pixels yet).
    """
    points = np.asarray(points, dtype=np.float64)
    if centre is None:
        centre = points.reshape(-1, 3).mean(axis=0)
    # Express the points in the camera's frame: rotating the world by -yaw is turning the camera by +yaw.
    local = (points - centre) @ camera._yaw()
    u, v = local[..., 0], -local[..., 1]
    if camera.projection == "perspective":
        depth = camera.distance_m - local[..., 2]
        scale = camera.distance_m / np.maximum(depth, 1e-3)
        u, v = u * scale, v * scale
    return np.stack([u, v], axis=-1)


def pelvis_facing(keypoints3d: np.ndarray, camera: Camera) -> np.ndarray:
    """Is the dancer facing the camera: (T,) cosine of the angle between the pelvis's forward direction and
    the direction to the camera (> 0: the front faces the camera, < 0: the back does).

    Args:
        keypoints3d: (T, 20, 3) body keypoints, metres, Y-up (the hips give the pelvis's left-right axis).
    """
    left = keypoints3d[:, KP["left_hip"]] - keypoints3d[:, KP["right_hip"]]
    forward = np.cross(left, np.array([0.0, 1.0, 0.0]))
    return forward @ camera.view_direction() / np.maximum(np.linalg.norm(forward, axis=1), 1e-9)


# --- 3. fitting to pixels --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit2D:
    """pixels = scale * plane + offset."""

    scale: float
    offset: np.ndarray

    def apply(self, plane_points: np.ndarray) -> np.ndarray:
        return plane_points * self.scale + self.offset


# Framing ignores the most extreme 2 % of frames on each side, so one edited key (an arm flung out) does not
# re-frame every other frame of the video.
FRAMING_QUANTILE = 0.02


def sequence_bbox(points: np.ndarray, quantile: float = FRAMING_QUANTILE) -> tuple[np.ndarray, np.ndarray]:
    """Robust bounding box of a point sequence: the ``quantile`` / ``1 - quantile`` of per-frame extents.

    Args:
        points: (T, K, 2); NaN entries are ignored.
    Returns:
        ``(lo, hi)``, each (2,).
    """
    finite = np.isfinite(points).all(axis=-1)
    frames = finite.any(axis=1)
    if not frames.any():
        raise InvalidInputError("no visible keypoint in any frame to frame the video on")
    masked = np.where(finite[..., None], points, np.nan)[frames]
    lo_t, hi_t = np.nanmin(masked, axis=1), np.nanmax(masked, axis=1)  # (T', 2) each
    return np.quantile(lo_t, quantile, axis=0), np.quantile(hi_t, 1.0 - quantile, axis=0)


def fit_to_canvas(
    plane_points: np.ndarray,
    width: int,
    height: int,
    box: tuple[float, float] = (0.72, 0.86),
    centre: tuple[float, float] = (0.5, 0.56),
) -> Fit2D:
    """Fit the (robust, see :func:`sequence_bbox`) bounding box of the frames' points into ``box`` (fractions of
    W, H) centred at ``centre``.

    Args:
        plane_points: (T, K, 2) projected points (NaN entries are ignored).
    """
    lo, hi = sequence_bbox(plane_points)
    extent = np.maximum(hi - lo, 1e-6)
    scale = float(min(box[0] * width / extent[0], box[1] * height / extent[1]))
    target = np.array([centre[0] * width, centre[1] * height])
    return Fit2D(scale, target - scale * 0.5 * (lo + hi))


def fit_to_reference(
    plane_points: np.ndarray, reference_keypoints: np.ndarray, width: int, height: int, margin: float = 0.02
) -> Fit2D:
    """Match frame 0's body joints to the reference person's keypoints (scale + offset, least squares).

    If the fitted sequence leaves the canvas (``margin`` of W/H kept free), it is shrunk about frame 0's
    neck until it is small enough and moved inside. Falls back to :func:`fit_to_canvas` when fewer than 3 of :data:`ALIGNMENT_KEYPOINTS` are known.

    Args:
        plane_points: (T, K, 2) projected points.
        reference_keypoints: (>= 14, 2) pixels in canvas coordinates in :data:`KEYPOINT_NAMES` order, NaN (or
            negative) where unknown.
    """
    ref = np.asarray(reference_keypoints, dtype=np.float64)
    if ref.ndim != 2 or ref.shape[1] != 2 or len(ref) < 14:
        raise InvalidInputError(f"reference keypoints must have shape (18 or 20, 2), got {ref.shape}")
    ref = np.where(ref < 0, np.nan, ref)
    index = np.array(ALIGNMENT_KEYPOINTS)
    src, dst = plane_points[0, index], ref[index]
    ok = np.isfinite(src).all(axis=1) & np.isfinite(dst).all(axis=1)
    if ok.sum() < 3:
        return fit_to_canvas(plane_points, width, height)
    src, dst = src[ok], dst[ok]
    src_c, dst_c = src - src.mean(axis=0), dst - dst.mean(axis=0)
    scale = float(np.sum(src_c * dst_c) / max(np.sum(src_c**2), 1e-12))
    if scale <= 0:
        return fit_to_canvas(plane_points, width, height)
    fit = Fit2D(scale, dst.mean(axis=0) - scale * src.mean(axis=0))

    # If the whole sequence does not fit on the canvas: shrink it about frame 0's neck until it is small enough,
    # then move it the least distance that brings it inside.
    lo_limit = np.array([margin * width, margin * height])
    hi_limit = np.array([(1 - margin) * width, (1 - margin) * height])

    def bbox(fit: Fit2D) -> tuple[np.ndarray, np.ndarray]:
        return sequence_bbox(fit.apply(plane_points))

    lo, hi = bbox(fit)
    shrink = float(min(1.0, np.min((hi_limit - lo_limit) / np.maximum(hi - lo, 1e-9))))
    if shrink < 1.0:
        neck = plane_points[0, KP["neck"]]
        anchor = fit.apply(neck)
        fit = Fit2D(scale * shrink, anchor - scale * shrink * neck)
        lo, hi = bbox(fit)
    shift = np.maximum(lo_limit - lo, 0.0) - np.maximum(hi - hi_limit, 0.0)
    if np.any(shift != 0):
        fit = Fit2D(fit.scale, fit.offset + shift)
    return fit


# --- 4. drawing ------------------------------------------------------------------------------------------

#: Fixed-point bits for cv2 drawing (its ``shift`` argument): sub-pixel placement of limbs, joints and the
#: puppet's triangles. Points go through :func:`cv2_fixed_point`.
CV2_SHIFT = 4
_ONE = 1 << CV2_SHIFT
_ELLIPSE_STEPS = 36
_UNIT_CIRCLE = np.stack(
    [np.cos(np.linspace(0, 2 * np.pi, _ELLIPSE_STEPS, endpoint=False)),
     np.sin(np.linspace(0, 2 * np.pi, _ELLIPSE_STEPS, endpoint=False))], axis=-1,
)  # fmt: skip


def cv2_fixed_point(pixels: np.ndarray, dtype=np.int32) -> np.ndarray:
    """Pixel coordinates (any shape, float) as cv2 fixed-point integers for ``shift=CV2_SHIFT``."""
    return np.round(pixels * _ONE).astype(dtype)


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
            cv2.circle(canvas, (int(fixed[k, 0]), int(fixed[k, 1])), radius * _ONE, KEYPOINT_COLORS[k], -1,
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
            cv2.circle(canvas, tuple(map(int, point)), radius * _ONE, _HAND_JOINT_COLOR, -1, cv2.LINE_8, CV2_SHIFT)


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


# --- face frames -----------------------------------------------------------------------------------------


def face_box_from_keypoints(keypoints: np.ndarray, image_shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Square crop (x0, y0, x1, y1) around a reference person's face from nose/eyes/ears keypoints.

    Mirrors Wan-Animate's face crop (face area x 1.3, more margin above than below) with the five face
    points a body skeleton has. Returns None when fewer than two face points are known.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    face = keypoints[list(FACE_KEYPOINTS)]
    face = face[np.isfinite(face).all(axis=1) & (face >= 0).all(axis=1)]
    if len(face) < 2:
        return None
    lo, hi = face.min(axis=0), face.max(axis=0)
    side = max(hi[0] - lo[0], hi[1] - lo[1]) * 1.3 * 1.6  # ears-to-ears is about 60 % of the face box
    cx, cy = 0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]) - 0.05 * side
    height, width = image_shape
    x0, y0 = int(round(max(cx - side / 2, 0))), int(round(max(cy - side / 2, 0)))
    x1, y1 = int(round(min(cx + side / 2, width))), int(round(min(cy + side / 2, height)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def face_image(reference: np.ndarray, box: tuple[int, int, int, int] | None, size: int = 512) -> np.ndarray:
    """The face crop Wan-Animate's face encoder expects: (size, size, 3) uint8; black when ``box`` is None.

    SMPL has no facial expression, so the same crop is repeated for every frame (a static expression);
    black is DiffSynth's "no face" input.
    """
    if box is None:
        return np.zeros((size, size, 3), dtype=np.uint8)
    x0, y0, x1, y1 = box
    return cv2.resize(reference[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
