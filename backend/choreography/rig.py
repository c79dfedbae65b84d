"""The dance rig: a few dozen readable pose parameters ↔ SMPL joint rotations.

Moves are authored in *pose parameters* (degrees and metres a choreographer can reason about: "raise the
left arm to 90°, bend the knees 8 cm, step the right foot 30 cm out") rather than raw SMPL axis-angles.
This module turns per-frame parameter curves into SMPL poses:

* pelvis, spine, neck, head, collars, arms and wrists come straight from the angles;
* the legs are solved by analytic two-bone IK so that each ankle reaches its authored foot target
  (planted feet stay exactly where they were put: no skating by construction), the knee points over the
  toes, and the foot stays flat on the floor while planted.

Frame: SMPL Y-up, metres, the dancer faces +Z at ``facing = 0``, +X is the dancer's left. Yaw angles turn
about +Y (positive = towards the dancer's left).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rotation_between, unit
from shared.skeleton import (
    HEAD, LEFT_ANKLE, LEFT_COLLAR, LEFT_ELBOW, LEFT_FOOT, LEFT_HIP, LEFT_KNEE, LEFT_SHOULDER, LEFT_WRIST, NECK,
    NUM_JOINTS, PELVIS, RIGHT_ANKLE, RIGHT_COLLAR, RIGHT_ELBOW, RIGHT_FOOT, RIGHT_HIP, RIGHT_KNEE,
    RIGHT_SHOULDER, RIGHT_WRIST, SPINE1, SPINE2, SPINE3, Skeleton,
)  # fmt: skip


@dataclass(frozen=True)
class Param:
    """One pose parameter.

    Attributes:
        name: key used in move keys.
        neutral: value in the ready stance.
        lo, hi: human limits (values are clamped into them).
        mirror: how the left/right mirror image maps it: "same", "neg" (negate), or the partner's name
            (swap with it; ``neg_partner`` also negates).
        scales: amplitude scales its deviation from neutral (False for travel, facing, foot placement).
        ease: always zero velocity at keys (feet: steps land and lift softly; a planted foot never drifts).
    """

    name: str
    neutral: float
    lo: float
    hi: float
    mirror: str = "same"
    scales: bool = True
    ease: bool = False
    neg_partner: bool = False


STANCE_HALF_WIDTH = 0.11  # m, ankle x in the ready stance
ANKLE_LIMIT_DEG = 55.0
FOOT_TURNOUT = 7.0  # deg, toes turned slightly out
NEUTRAL_DROP = 0.035  # m, soft knees

_PARAMS: tuple[Param, ...] = (
    # Where the dancer stands (move frame while authoring, stage frame once planned).
    Param("root_x", 0.0, -50.0, 50.0, "neg", scales=False),
    Param("root_z", 0.0, -50.0, 50.0, "same", scales=False),
    Param("facing", 0.0, -1e5, 1e5, "neg", scales=False),
    # Pelvis.
    Param("drop", NEUTRAL_DROP, -0.10, 0.40),  # m lower than standing (negative = rise / hop)
    Param("sway", 0.0, -0.14, 0.14, "neg"),  # m pelvis shift to the dancer's left, body frame
    Param("hip_twist", 0.0, -40.0, 40.0, "neg"),
    Param("hip_roll", 0.0, -15.0, 15.0, "neg"),  # + lifts the right hip
    Param("hip_pitch", 0.0, -15.0, 20.0),  # + tips the pelvis forward
    # Torso and head (relative to an upright torso facing ``facing``).
    Param("lean", 4.0, -25.0, 45.0),  # + bends forward
    Param("side_bend", 0.0, -30.0, 30.0, "neg"),  # + bends to the dancer's right
    Param("chest_twist", 0.0, -45.0, 45.0, "neg"),  # + turns the chest to the dancer's left
    Param("head_nod", 0.0, -30.0, 35.0),  # + looks down
    Param("head_turn", 0.0, -60.0, 60.0, "neg"),
    Param("head_tilt", 0.0, -25.0, 25.0, "neg"),
    # Arms: raise 0 = hanging, 90 = horizontal, 170 = overhead; fwd 0 = out to the side, 90 = forward.
    *(
        Param(f"{s}_{name}", neutral, lo, hi, f"{o}_{name}")
        for s, o in (("l", "r"), ("r", "l"))
        for name, neutral, lo, hi in (
            ("shrug", 0.0, -10.0, 25.0),
            ("raise", 14.0, 0.0, 175.0),
            ("fwd", 15.0, -40.0, 120.0),
            ("elbow", 22.0, 0.0, 145.0),
            ("twist", 0.0, -80.0, 80.0),
            ("wrist", 0.0, -50.0, 50.0),
        )
    ),
    # Feet: ankle position (x, z) on the floor, lift above the floor, yaw relative to ``facing``.
    Param("lf_x", STANCE_HALF_WIDTH, -50.0, 50.0, "rf_x", scales=False, ease=True, neg_partner=True),
    Param("lf_z", 0.0, -50.0, 50.0, "rf_z", scales=False, ease=True),
    Param("lf_lift", 0.0, 0.0, 0.38, "rf_lift", ease=True),
    Param("lf_yaw", FOOT_TURNOUT, -60.0, 60.0, "rf_yaw", scales=False, ease=True, neg_partner=True),
    Param("rf_x", -STANCE_HALF_WIDTH, -50.0, 50.0, "lf_x", scales=False, ease=True, neg_partner=True),
    Param("rf_z", 0.0, -50.0, 50.0, "lf_z", scales=False, ease=True),
    Param("rf_lift", 0.0, 0.0, 0.38, "lf_lift", ease=True),
    Param("rf_yaw", -FOOT_TURNOUT, -60.0, 60.0, "lf_yaw", scales=False, ease=True, neg_partner=True),
)

PARAMS: dict[str, Param] = {p.name: p for p in _PARAMS}
PARAM_NAMES: tuple[str, ...] = tuple(PARAMS)
PARAM_INDEX: dict[str, int] = {name: i for i, name in enumerate(PARAM_NAMES)}
NUM_PARAMS = len(PARAM_NAMES)
NEUTRAL = np.array([p.neutral for p in _PARAMS])
LOWER = np.array([p.lo for p in _PARAMS])
UPPER = np.array([p.hi for p in _PARAMS])
SCALES = np.array([p.scales for p in _PARAMS])
EASE = np.array([p.ease for p in _PARAMS])


def _mirror_tables() -> tuple[np.ndarray, np.ndarray]:
    source = np.arange(NUM_PARAMS)
    sign = np.ones(NUM_PARAMS)
    for i, p in enumerate(_PARAMS):
        if p.mirror == "neg":
            sign[i] = -1.0
        elif p.mirror != "same":
            source[i] = PARAM_INDEX[p.mirror]
            sign[i] = -1.0 if p.neg_partner else 1.0
    return source, sign


_MIRROR_SOURCE, _MIRROR_SIGN = _mirror_tables()


def mirror_params(values: np.ndarray) -> np.ndarray:
    """Left/right mirror image of (..., P) parameter vectors (reflection through the x = 0 plane)."""
    return values[..., _MIRROR_SOURCE] * _MIRROR_SIGN


def clamp_params(values: np.ndarray) -> np.ndarray:
    """(..., P) values clamped to the human limits."""
    return np.clip(values, LOWER, UPPER)


# -- rotation helpers (batched over T) ---------------------------------------------------------------
def _rot(axis: int, degrees: np.ndarray) -> np.ndarray:
    """(T,) degrees -> (T, 3, 3) rotation about x (0), y (1) or z (2) (built from cos/sin directly)."""
    radians = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    cos, sin = np.cos(radians), np.sin(radians)
    out = np.zeros(radians.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]  # the plane the rotation turns (right-handed)
    out[..., axis, axis] = 1.0
    out[..., i, i] = out[..., j, j] = cos
    out[..., i, j], out[..., j, i] = -sin, sin
    return out


def _axis_rotation(axis: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """(T, 3) or (3,) unit axes, (T,) degrees -> (T, 3, 3)."""
    return axis_angle_to_matrix(axis * np.deg2rad(np.asarray(degrees, dtype=np.float64))[..., None])


def _frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) whose columns are primary, secondary ⟂ primary, and their cross."""
    e1 = primary / np.linalg.norm(primary, axis=-1, keepdims=True)
    e2 = secondary - np.sum(secondary * e1, axis=-1, keepdims=True) * e1
    e2 /= np.maximum(np.linalg.norm(e2, axis=-1, keepdims=True), 1e-9)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


class DanceRig:
    """Turns pose-parameter curves into SMPL poses and root translation for one skeleton."""

    def __init__(self, skeleton: Skeleton | None = None):
        self.skeleton = skeleton or Skeleton.default()
        o = self.skeleton.offsets
        self.thigh = np.linalg.norm(o[[LEFT_KNEE, RIGHT_KNEE]], axis=1)  # (2,) left, right
        self.shin = np.linalg.norm(o[[LEFT_ANKLE, RIGHT_ANKLE]], axis=1)
        # Ankle height of a flat foot whose toe joint touches the floor (y = 0).
        self.ankle_height = -o[[LEFT_FOOT, RIGHT_FOOT], 1]
        hip_to_ankle = -(o[[LEFT_KNEE, RIGHT_KNEE], 1] + o[[LEFT_ANKLE, RIGHT_ANKLE], 1])
        hip_below_pelvis = -o[[LEFT_HIP, RIGHT_HIP], 1]
        # Pelvis height with the legs at 97 % of their vertical reach: "standing" for a dancer.
        self.stand_height = float(np.mean(self.ankle_height + hip_below_pelvis + 0.97 * hip_to_ankle))

    # -- the whole body ----------------------------------------------------------------------------
    def solve(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pose parameters -> SMPL motion.

        Args:
            values: (T, P) parameter curves (stage frame, degrees and metres).
        Returns:
            poses (T, 24, 3) float64 axis-angle, trans (T, 3) SMPL translation (metres, floor y = 0),
            planted (T, 2) bool — left and right foot on the floor.
        """
        v = {name: values[:, i] for i, name in enumerate(PARAM_NAMES)}
        num_frames = len(values)
        local = np.tile(np.eye(3), (num_frames, NUM_JOINTS, 1, 1))

        facing = v["facing"]
        pelvis_rot = _rot(1, facing + v["hip_twist"]) @ _rot(0, v["hip_pitch"]) @ _rot(2, -v["hip_roll"])
        local[:, PELVIS] = pelvis_rot
        # The spine undoes the pelvis' twist, pitch and roll so that lean/bend/twist are relative to upright.
        spine = (
            _rot(1, (v["chest_twist"] - v["hip_twist"]) / 3.0)
            @ _rot(0, (v["lean"] - v["hip_pitch"]) / 3.0)
            @ _rot(2, (v["side_bend"] + v["hip_roll"]) / 3.0)
        )
        local[:, SPINE1] = local[:, SPINE2] = local[:, SPINE3] = spine
        head = _rot(1, v["head_turn"] / 2.0) @ _rot(0, v["head_nod"] / 2.0) @ _rot(2, -v["head_tilt"] / 2.0)
        local[:, NECK] = local[:, HEAD] = head
        local[:, LEFT_COLLAR] = _rot(2, v["l_shrug"])
        local[:, RIGHT_COLLAR] = _rot(2, -v["r_shrug"])
        for side, shoulder, elbow, wrist, sign in (
            ("l", LEFT_SHOULDER, LEFT_ELBOW, LEFT_WRIST, 1.0),
            ("r", RIGHT_SHOULDER, RIGHT_ELBOW, RIGHT_WRIST, -1.0),
        ):
            local[:, shoulder] = self._arm(v[f"{side}_raise"], v[f"{side}_fwd"], v[f"{side}_twist"], sign)
            local[:, elbow] = _rot(1, -sign * v[f"{side}_elbow"])
            local[:, wrist] = _rot(2, -sign * v[f"{side}_wrist"])

        pelvis = self._pelvis_position(v, pelvis_rot)
        planted = np.stack([v["lf_lift"] < 1e-3, v["rf_lift"] < 1e-3], axis=1)
        self._legs(v, local, pelvis_rot, pelvis)
        poses = matrix_to_axis_angle(local)
        # Safety net: a lifted foot at the end of a high kick may ask the ankle for more than it has.
        for ankle in (LEFT_ANKLE, RIGHT_ANKLE):
            angle = np.linalg.norm(poses[:, ankle], axis=-1, keepdims=True)
            limit = np.deg2rad(ANKLE_LIMIT_DEG)
            poses[:, ankle] *= np.where(angle > limit, limit / np.maximum(angle, 1e-12), 1.0)
        # SMPL puts the pelvis at trans + offsets[0] (zero for the default skeleton, J_0 for a real body).
        return poses, pelvis - self.skeleton.offsets[0], planted

    def _arm(self, raise_deg, fwd_deg, twist_deg, sign: float) -> np.ndarray:
        """Shoulder rotation putting the upper arm at (raise, fwd) with a twist about itself."""
        a, b = np.deg2rad(raise_deg), np.deg2rad(fwd_deg)
        direction = np.stack([sign * np.sin(a) * np.cos(b), -np.cos(a), np.sin(a) * np.sin(b)], axis=-1)
        rest = unit(self.skeleton.offsets[LEFT_ELBOW if sign > 0 else RIGHT_ELBOW])
        return _axis_rotation(direction, sign * twist_deg) @ rotation_between(rest, direction)

    def _pelvis_position(self, v: dict[str, np.ndarray], pelvis_rot: np.ndarray) -> np.ndarray:
        """(T, 3) pelvis position: stance centre + body-frame sway, lowered so both legs can reach."""
        yaw = np.deg2rad(v["facing"])
        sway = v["sway"]
        x = v["root_x"] + np.cos(yaw) * sway
        z = v["root_z"] - np.sin(yaw) * sway
        height = self.stand_height - v["drop"]
        # Highest pelvis each leg allows (98 % reach), then a soft minimum so the drop stays smooth.
        limit = np.full_like(height, np.inf)
        for k, (hip, fx, fz, lift) in enumerate(
            ((LEFT_HIP, "lf_x", "lf_z", "lf_lift"), (RIGHT_HIP, "rf_x", "rf_z", "rf_lift"))
        ):
            hip_offset = pelvis_rot @ self.skeleton.offsets[hip]
            dx = x + hip_offset[:, 0] - v[fx]
            dz = z + hip_offset[:, 2] - v[fz]
            reach = 0.98 * (self.thigh[k] + self.shin[k])
            vertical = np.sqrt(np.maximum(reach**2 - dx**2 - dz**2, 0.04))
            limit = np.minimum(limit, self.ankle_height[k] + v[lift] + vertical - hip_offset[:, 1])
        softness = 0.02
        height = limit - softness * np.logaddexp(0.0, (limit - height) / softness)
        return np.stack([x, height, z], axis=-1)

    def _legs(self, v: dict[str, np.ndarray], local: np.ndarray, pelvis_rot: np.ndarray, pelvis: np.ndarray) -> None:
        """Two-bone IK for both legs, writing hip, knee, ankle rotations into ``local`` in place."""
        o = self.skeleton.offsets
        forward_rest = np.array([0.0, 0.0, 1.0])
        for k, (hip, knee, ankle, toe, prefix) in enumerate(
            ((LEFT_HIP, LEFT_KNEE, LEFT_ANKLE, LEFT_FOOT, "lf"), (RIGHT_HIP, RIGHT_KNEE, RIGHT_ANKLE, RIGHT_FOOT, "rf"))
        ):
            lift = v[f"{prefix}_lift"]
            target = np.stack([v[f"{prefix}_x"], self.ankle_height[k] + lift, v[f"{prefix}_z"]], axis=-1)
            foot_yaw = v["facing"] + v[f"{prefix}_yaw"]
            # Toes point down a little while the foot is in the air.
            foot_rot = _rot(1, foot_yaw) @ _rot(0, np.minimum(lift * 120.0, 25.0))
            toe_dir = foot_rot @ forward_rest

            hip_pos = pelvis + pelvis_rot @ o[hip]
            to_ankle = target - hip_pos
            l1, l2 = self.thigh[k], self.shin[k]
            dist = np.clip(np.linalg.norm(to_ankle, axis=-1), abs(l1 - l2) + 1e-3, 0.999 * (l1 + l2))
            n = unit(to_ankle)
            pole = toe_dir - np.sum(toe_dir * n, axis=-1, keepdims=True) * n  # knee points over the toes
            pole = unit(pole + 1e-6 * np.array([0.0, 0.0, 1.0]))
            cos_hip = np.clip((l1**2 + dist**2 - l2**2) / (2 * l1 * dist), -1.0, 1.0)
            knee_pos = hip_pos + l1 * (cos_hip[:, None] * n + np.sqrt(1 - cos_hip**2)[:, None] * pole)
            ankle_pos = hip_pos + dist[:, None] * n

            thigh_global = _frame(knee_pos - hip_pos, pole) @ _frame(o[knee], forward_rest).swapaxes(-1, -2)
            shin_global = _frame(ankle_pos - knee_pos, pole) @ _frame(o[ankle], forward_rest).swapaxes(-1, -2)
            local[:, hip] = pelvis_rot.swapaxes(-1, -2) @ thigh_global
            local[:, knee] = thigh_global.swapaxes(-1, -2) @ shin_global
            local[:, ankle] = shin_global.swapaxes(-1, -2) @ foot_rot
            local[:, toe] = np.eye(3)


#: Largest local rotation (degrees) the rig may give each joint — a conservative human range for the
#: joint's whole rotation relative to its parent. Joints left out (the root) are unconstrained.
JOINT_LIMITS_DEG: dict[int, float] = {
    LEFT_HIP: 110.0, RIGHT_HIP: 110.0, SPINE1: 35.0, SPINE2: 35.0, SPINE3: 35.0,
    LEFT_KNEE: 150.0, RIGHT_KNEE: 150.0, LEFT_ANKLE: 60.0, RIGHT_ANKLE: 60.0, LEFT_FOOT: 1.0, RIGHT_FOOT: 1.0,
    NECK: 40.0, HEAD: 40.0, LEFT_COLLAR: 30.0, RIGHT_COLLAR: 30.0, LEFT_ELBOW: 150.0, RIGHT_ELBOW: 150.0,
    LEFT_WRIST: 55.0, RIGHT_WRIST: 55.0, 22: 1.0, 23: 1.0,
}  # fmt: skip


def joint_limit_violations(poses: np.ndarray, tolerance_deg: float = 0.5) -> dict[str, float]:
    """Joints that leave their human range anywhere in ``poses`` (T, 24, 3), with the worst excess (deg).

    Besides the magnitude limits, knees and elbows are hinges that bend one way only: a knee may not
    bend forward (shin ahead of the thigh) and an elbow may not bend backwards, beyond the tolerance.
    """
    from shared.skeleton import JOINT_NAMES

    angles = np.degrees(np.linalg.norm(poses, axis=-1))
    worst: dict[str, float] = {}
    for joint, limit in JOINT_LIMITS_DEG.items():
        excess = float(angles[:, joint].max() - limit)
        if excess > tolerance_deg:
            worst[JOINT_NAMES[joint]] = excess
    # Hinges: knee flexion is a positive rotation about +X; left elbow flexion negative about +Y, right positive.
    for joint, component, sign in ((LEFT_KNEE, 0, 1), (RIGHT_KNEE, 0, 1), (LEFT_ELBOW, 1, -1), (RIGHT_ELBOW, 1, 1)):
        wrong_way = float(np.degrees(-(sign * poses[:, joint, component])).max())
        if wrong_way > 5.0:
            worst[f"{JOINT_NAMES[joint]} (bends the wrong way)"] = wrong_way
    return worst
