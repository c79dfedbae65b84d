"""The SMPL kinematic tree: joint names, parents and rest offsets (Y-up, metres).

The default rest skeleton is the one EDGE and MACE-Dance use for FK (their ``vis.py`` offsets, the SMPL
neutral body at betas = 0 with the root offset dropped, so the pelvis sits at ``trans``).
``Skeleton.from_smpl_model`` regresses the joints of a real SMPL model file instead; then the pelvis
sits at ``trans + J_0(betas)``, exactly as in SMPL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InvalidInputError
from .smpl_model import load_smpl_model_arrays

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

(PELVIS, LEFT_HIP, RIGHT_HIP, SPINE1, LEFT_KNEE, RIGHT_KNEE, SPINE2, LEFT_ANKLE, RIGHT_ANKLE, SPINE3,
 LEFT_FOOT, RIGHT_FOOT, NECK, LEFT_COLLAR, RIGHT_COLLAR, HEAD, LEFT_SHOULDER, RIGHT_SHOULDER,
 LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST, LEFT_HAND, RIGHT_HAND) = range(NUM_JOINTS)  # fmt: skip

#: Joints whose contact flags make up the 4 contact channels, in EDGE order.
FOOT_JOINTS: tuple[int, int, int, int] = (LEFT_ANKLE, RIGHT_ANKLE, LEFT_FOOT, RIGHT_FOOT)

#: Parent of each joint; the root's parent is -1. Every parent precedes its children.
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21], dtype=np.int64)

#: Left/right partner of each joint (itself for the spine), for mirroring.
MIRROR = np.array([0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22], dtype=np.int64)

#: Offset of each joint from its parent at rest, metres, Y-up, +X = body left, +Z = forward.
REST_OFFSETS = np.array([
    [0.0, 0.0, 0.0],
    [0.05858135, -0.08228004, -0.01766408],
    [-0.06030973, -0.09051332, -0.01354254],
    [0.00443945, 0.12440352, -0.03838522],
    [0.04345142, -0.38646945, 0.008037],
    [-0.04325663, -0.38368791, -0.00484304],
    [0.00448844, 0.1379564, 0.02682033],
    [-0.01479032, -0.42687458, -0.037428],
    [0.01905555, -0.4200455, -0.03456167],
    [-0.00226458, 0.05603239, 0.00285505],
    [0.04105436, -0.06028581, 0.12204243],
    [-0.03483987, -0.06210566, 0.13032329],
    [-0.0133902, 0.21163553, -0.03346758],
    [0.07170245, 0.11399969, -0.01889817],
    [-0.08295366, 0.11247234, -0.02370739],
    [0.01011321, 0.08893734, 0.05040987],
    [0.12292141, 0.04520509, -0.019046],
    [-0.11322832, 0.04685326, -0.00847207],
    [0.2553319, -0.01564902, -0.02294649],
    [-0.26012748, -0.01436928, -0.03126873],
    [0.26570925, 0.01269811, -0.00737473],
    [-0.26910836, 0.00679372, -0.00602676],
    [0.08669055, -0.01063603, -0.01559429],
    [-0.0887537, -0.00865157, -0.01010708],
], dtype=np.float64)  # fmt: skip


@dataclass(frozen=True)
class Skeleton:
    """A rest skeleton.

    Attributes:
        offsets: (J, 3) float64, metres, Y-up — each joint's offset from its parent at rest; row 0 is the
            pelvis position relative to ``trans`` (zero for the default skeleton).
        parents: (J,) int64, root -1.
    """

    offsets: np.ndarray
    parents: np.ndarray = field(default_factory=PARENTS.copy)

    @classmethod
    def default(cls) -> "Skeleton":
        """The EDGE/MACE rest skeleton (SMPL neutral, betas = 0, pelvis at ``trans``)."""
        return _DEFAULT

    @classmethod
    def from_joint_positions(cls, joints: np.ndarray) -> "Skeleton":
        """Skeleton whose rest joints are ``joints`` (J, 3) in the model frame."""
        joints = np.asarray(joints, dtype=np.float64)
        if joints.shape != (NUM_JOINTS, 3) or not np.isfinite(joints).all():
            raise InvalidInputError(f"rest joints must be a finite ({NUM_JOINTS}, 3) array, got shape {joints.shape}")
        offsets = joints.copy()
        offsets[1:] -= joints[PARENTS[1:]]
        return cls(offsets=offsets)

    @classmethod
    def from_smpl_model(cls, path: str | Path, betas: np.ndarray | None = None) -> "Skeleton":
        """Regress the rest joints of an SMPL model file (``.pkl`` or ``.npz``) for shape ``betas``.

        Official ``.pkl`` files are read with a restricted unpickler (chumpy and scipy.sparse objects are
        turned into plain arrays); nothing in the file is executed.
        """
        model = load_smpl_model_arrays(path)
        return cls.from_joint_positions(regress_rest_joints(model, betas))

    def rest_positions(self) -> np.ndarray:
        """(J, 3) float64 rest joint positions relative to ``trans``."""
        positions = np.zeros_like(self.offsets)
        for j in range(len(self.parents)):
            parent = self.parents[j]
            positions[j] = self.offsets[j] + (positions[parent] if parent >= 0 else 0.0)
        return positions


def regress_rest_joints(model: dict[str, np.ndarray], betas: np.ndarray | None) -> np.ndarray:
    """J = J_regressor · (v_template + shapedirs · betas). Returns (24, 3) float64."""
    vertices = np.asarray(model["v_template"], dtype=np.float64)
    if betas is not None and len(betas):
        betas = np.asarray(betas, dtype=np.float64).ravel()
        shapedirs = np.asarray(model["shapedirs"], dtype=np.float64)  # (V, 3, B)
        n = min(len(betas), shapedirs.shape[2])
        vertices = vertices + np.einsum("vcb,b->vc", shapedirs[:, :, :n], betas[:n])
    regressor = np.asarray(model["J_regressor"], dtype=np.float64)  # (J, V)
    return regressor @ vertices


_DEFAULT = Skeleton(offsets=REST_OFFSETS)
