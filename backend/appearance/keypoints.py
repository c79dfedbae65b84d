"""Body keypoints of a motion, the camera and the framing: the 2D base both renderers stand on.

The pose video (:mod:`.pose_video`, Wan-Animate's driving signal) and the CPU puppet (:mod:`.puppet`) see the
dancer through the same steps, one function each so each can be tested alone:

1. :func:`smpl_to_body_keypoints` — (T, 24, 3) SMPL joints (+ head rotations) -> (T, 20, 3) body keypoints in
   Wan-Animate order (COCO-18 + left/right toe), nose/eyes/ears synthesised from the head, plus a visibility
   mask (face points facing away from the camera are hidden, as a detector would miss them).
2. :func:`project` — orthographic front view (default) or perspective, after an optional yaw of the view.
   The canonical frame is SMPL Y-up, the dancer faces +Z and +X is the dancer's left; the camera sits on +Z
   looking back at the dancer, so image-right is the dancer's left, as in a photo of someone facing you.
   :func:`pelvis_facing` says whether the dancer faces the camera.
3. :func:`fit_to_canvas` / :func:`fit_to_reference` — one similarity (scale + offset, no rotation) for the
   whole sequence: the canvas fit puts the sequence's bounding box into 72 % x 86 % of the canvas centred at
   (0.5 W, 0.56 H) (MACE-Dance's ``motion_to_pose_video`` framing); the reference fit matches frame 0's limb
   joints to keypoints of the reference person (least squares), then shrinks if the sequence leaves the
   canvas.
4. :func:`cv2_fixed_point` — pixels as cv2's fixed-point integers (``shift`` = :data:`CV2_SHIFT`), for
   sub-pixel drawing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from shared.errors import InvalidInputError
from shared.kinematics import forward_kinematics, global_rotations
from shared.motion import Motion
from shared.skeleton import (
    HEAD,
    LEFT_ANKLE,
    LEFT_ELBOW,
    LEFT_FOOT,
    LEFT_HIP,
    LEFT_KNEE,
    LEFT_SHOULDER,
    LEFT_WRIST,
    RIGHT_ANKLE,
    RIGHT_ELBOW,
    RIGHT_FOOT,
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


# --- 4. pixels for cv2 -----------------------------------------------------------------------------------

#: Fixed-point bits for cv2 drawing (its ``shift`` argument): sub-pixel placement of limbs, joints and the
#: puppet's triangles. Points go through :func:`cv2_fixed_point`; a length in pixels is ``n * CV2_ONE``.
CV2_SHIFT = 4
CV2_ONE = 1 << CV2_SHIFT


def cv2_fixed_point(pixels: np.ndarray, dtype=np.int32) -> np.ndarray:
    """Pixel coordinates (any shape, float) as cv2 fixed-point integers for ``shift=CV2_SHIFT``."""
    return np.round(pixels * CV2_ONE).astype(dtype)
