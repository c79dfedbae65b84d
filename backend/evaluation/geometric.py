"""Geometric ("manual") motion feature (AIST++/Bailando ``manual_new``, 32-d).

Müller-style boolean relations between joints, evaluated at frames 1 … T-1 and averaged over time, so each
dimension is the fraction of frames where the relation holds. The relation list, joint triples and
thresholds are those of the corrected 24-joint extractor (aistplusplus_api / Bailando ``manual_new.py``);
thresholds scale with a humerus length ``hl``, shoulder width ``sw`` and hip width ``hw`` measured on a
fixed SMPL template. The four relation kinds:

* ``move(j1, j2, p, unused)``: velocity of ``p`` relative to ``j1``, projected on the direction j1→j2,
  > θ (the reference extractor moves its *third* joint and ignores the fourth; kept, see
  docs/evaluation.md);
* ``nmove(j1, j2, j3, p)``: the same along the normal of the plane (j1, j2, j3), cross(j3-j1, j2-j1);
* ``plane(a, b, c, p)``: signed distance of ``p`` from the plane (a, b, c), normal cross(c-a, b-a), > θ;
* ``nplane(n1, n2, a, p)``: signed distance of ``p`` from the plane through ``a`` with normal n2-n1, > θ;
* ``angle(j1, j2, k1, k2)``: angle between j2-j1 and k2-k1 strictly inside (lo, hi) degrees;
* ``fast(p)``: speed of ``p`` > θ.

Velocities are per-frame differences divided by ``protocol.geometric_dt`` (always 1/120 s in the
reference code, 1/fps in the clean protocol).
"""

from __future__ import annotations

import numpy as np

from shared.rotations import unit
from shared.skeleton import JOINT_INDEX

from .protocol import EvalProtocol

# Template joint coordinates (metres) that fix the threshold scale, from the reference extractor.
_TEMPLATE_LEFT_SHOULDER = np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02])
_TEMPLATE_LEFT_ELBOW = np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02])
_TEMPLATE_RIGHT_SHOULDER = np.array([-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])
_TEMPLATE_LEFT_HIP = np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02])
_TEMPLATE_RIGHT_HIP = np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])
HUMERUS_LENGTH = float(np.linalg.norm(_TEMPLATE_LEFT_SHOULDER - _TEMPLATE_LEFT_ELBOW))
SHOULDER_WIDTH = float(np.linalg.norm(_TEMPLATE_LEFT_SHOULDER - _TEMPLATE_RIGHT_SHOULDER))
HIP_WIDTH = float(np.linalg.norm(_TEMPLATE_LEFT_HIP - _TEMPLATE_RIGHT_HIP))

# The extractor's short joint names → SMPL joint indices.
_J = {
    "root": JOINT_INDEX["pelvis"], "lhip": JOINT_INDEX["left_hip"], "rhip": JOINT_INDEX["right_hip"],
    "belly": JOINT_INDEX["spine1"], "lknee": JOINT_INDEX["left_knee"], "rknee": JOINT_INDEX["right_knee"],
    "lankle": JOINT_INDEX["left_ankle"], "rankle": JOINT_INDEX["right_ankle"], "chest": JOINT_INDEX["spine3"],
    "ltoes": JOINT_INDEX["left_foot"], "rtoes": JOINT_INDEX["right_foot"], "neck": JOINT_INDEX["neck"],
    "lshoulder": JOINT_INDEX["left_shoulder"], "rshoulder": JOINT_INDEX["right_shoulder"],
    "lelbow": JOINT_INDEX["left_elbow"], "relbow": JOINT_INDEX["right_elbow"],
    "lwrist": JOINT_INDEX["left_wrist"], "rwrist": JOINT_INDEX["right_wrist"],
}  # fmt: skip

hl, sw, hw = HUMERUS_LENGTH, SHOULDER_WIDTH, HIP_WIDTH
#: The 32 relations in the reference order: (kind, points, threshold or angle range).
GEOMETRIC_RELATIONS: tuple[tuple[str, tuple[str, ...], object], ...] = (
    ("nmove", ("neck", "rhip", "lhip", "rwrist"), 1.8 * hl),
    ("nmove", ("neck", "lhip", "rhip", "lwrist"), 1.8 * hl),
    ("nplane", ("chest", "neck", "neck", "rwrist"), 0.2 * hl),
    ("nplane", ("chest", "neck", "neck", "lwrist"), 0.2 * hl),
    ("move", ("belly", "chest", "chest", "rwrist"), 1.8 * hl),
    ("move", ("belly", "chest", "chest", "lwrist"), 1.8 * hl),
    ("angle", ("relbow", "rshoulder", "relbow", "rwrist"), (0.0, 110.0)),
    ("angle", ("lelbow", "lshoulder", "lelbow", "lwrist"), (0.0, 110.0)),
    ("nplane", ("lshoulder", "rshoulder", "lwrist", "rwrist"), 2.5 * sw),
    ("move", ("lwrist", "rwrist", "rwrist", "lwrist"), 1.4 * hl),
    ("move", ("rwrist", "root", "lwrist", "root"), 1.4 * hl),
    ("move", ("lwrist", "root", "rwrist", "root"), 1.4 * hl),
    ("fast", ("rwrist",), 2.5 * hl),
    ("fast", ("lwrist",), 2.5 * hl),
    ("plane", ("root", "lhip", "ltoes", "rankle"), 0.38 * hl),
    ("plane", ("root", "rhip", "rtoes", "lankle"), 0.38 * hl),
    ("nplane", ("zero", "y_unit", "y_min", "rankle"), 1.2 * hl),
    ("nplane", ("zero", "y_unit", "y_min", "lankle"), 1.2 * hl),
    ("nplane", ("lhip", "rhip", "lankle", "rankle"), 2.1 * hw),
    ("angle", ("rknee", "rhip", "rknee", "rankle"), (0.0, 110.0)),
    ("angle", ("lknee", "lhip", "lknee", "lankle"), (0.0, 110.0)),
    ("fast", ("rankle",), 2.5 * hl),
    ("fast", ("lankle",), 2.5 * hl),
    ("angle", ("neck", "root", "rshoulder", "relbow"), (25.0, 180.0)),
    ("angle", ("neck", "root", "lshoulder", "lelbow"), (25.0, 180.0)),
    ("angle", ("neck", "root", "rhip", "rknee"), (50.0, 180.0)),
    ("angle", ("neck", "root", "lhip", "lknee"), (50.0, 180.0)),
    ("plane", ("rankle", "neck", "lankle", "root"), 0.5 * hl),
    ("angle", ("neck", "root", "zero", "y_unit"), (70.0, 110.0)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "rwrist"), -1.2 * hl),
    ("nplane", ("zero", "minus_y_unit", "y_min", "lwrist"), -1.2 * hl),
    ("fast", ("root",), 2.3 * hl),
)
del hl, sw, hw
GEOMETRIC_DIM = len(GEOMETRIC_RELATIONS)


def _points(positions: np.ndarray, name: str) -> np.ndarray:
    """(N, 3) positions of a named joint or of one of the extractor's special points."""
    count = len(positions)
    if name == "zero":
        return np.zeros((count, 3))
    if name in ("y_unit", "minus_y_unit"):
        point = np.zeros((count, 3))
        point[:, 1] = 1.0 if name == "y_unit" else -1.0
        return point
    if name == "y_min":  # (0, lowest joint height of the frame, 0)
        point = np.zeros((count, 3))
        point[:, 1] = positions[:, :, 1].min(axis=1)
        return point
    return positions[:, _J[name]]


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ni,ni->n", a, b)


def geometric_features(joints: np.ndarray, protocol: EvalProtocol) -> np.ndarray:
    """The 32-d geometric feature of one motion.

    Args:
        joints: (T, 24, 3) float, metres, Y-up, T >= 2.
        protocol: supplies the frame time of the velocity relations.
    Returns:
        (32,) float64, each in [0, 1]: the fraction of frames 1 … T-1 where the relation holds.
    """
    positions = np.asarray(joints, dtype=np.float64)
    now, before = positions[1:], positions[:-1]
    dt = protocol.geometric_dt
    columns = []
    with np.errstate(invalid="ignore", divide="ignore"):  # degenerate geometry → NaN → relation false
        for kind, names, threshold in GEOMETRIC_RELATIONS:
            p = [_points(now, n) for n in names]
            if kind in ("move", "nmove"):
                mover = 2 if kind == "move" else 3
                j1_prev = _points(before, names[0])
                mover_prev = _points(before, names[mover])
                velocity = ((p[mover] - p[0]) - (mover_prev - j1_prev)) / dt
                if kind == "move":
                    direction = p[1] - p[0]
                else:
                    direction = np.cross(p[2] - p[0], p[1] - p[0])
                holds = _dot(velocity, unit(direction)) > threshold
            elif kind == "plane":
                a, b, c, q = p
                holds = _dot(q - a, unit(np.cross(c - a, b - a))) > threshold
            elif kind == "nplane":
                n1, n2, a, q = p
                holds = _dot(q - a, unit(n2 - n1)) > threshold
            elif kind == "angle":
                j1, j2, k1, k2 = p
                cosine = _dot(unit(j2 - j1), unit(k2 - k1))
                angle = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
                lo, hi = threshold
                holds = (angle > lo) & (angle < hi)
            else:  # fast
                speed = np.linalg.norm(p[0] - _points(before, names[0]), axis=-1) / dt
                holds = speed > threshold
            columns.append(holds)
    return np.stack(columns, axis=-1).astype(np.float64).mean(axis=0)
