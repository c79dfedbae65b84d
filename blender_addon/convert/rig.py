"""The dancer's rig in rest pose, in pure numpy: bones along the limbs, rolls, collections, a root bone.

Layout: a ``root`` bone on the floor (head at the origin, pointing +Y, roll 0, so its frame is the armature's)
carries the translation; under it one bone per SMPL joint, head at the joint and tail at the joint's child
(the leaves -- head, hands, feet -- continue their limb). Bones are connected where SMPL's joints chain.
Rolls put each bone's X axis on its main bending axis: world X for the spine and legs (bending forward),
world +-Z for the arms (left and right mirrored, as Blender's X-mirror expects).

The rest pose stands on the floor: the whole skeleton is lifted by ``lift`` so its lowest joint is
``FOOT_JOINT_HEIGHT`` above z = 0. Because bones no longer share the SMPL frame, rotations are converted by
conjugating with each bone's rest orientation (see :mod:`.smpl_to_armature` and :mod:`.armature_to_smpl`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._shared import rotations, skeleton as smpl_skeleton
from .axes import smpl_to_blender_points

ROOT_BONE = "root"
#: Bone names of the rig: the root, then the SMPL joints in SMPL order (bone j + 1 is SMPL joint j).
BONE_NAMES: tuple[str, ...] = (ROOT_BONE, *smpl_skeleton.JOINT_NAMES)
#: Height of the lowest rest joint (the ball of the foot) above the floor, metres.
FOOT_JOINT_HEIGHT = 0.03
ROOT_LENGTH = 0.35

#: The child each joint's bone points at (joints with several children point along the spine).
_TAIL_CHILD = {"pelvis": "spine1", "spine3": "neck"}
#: Leaves: (length in metres, how the tail continues) -- "up", "limb" (along parent->joint) or "forward".
_LEAVES = {"head": (0.2, "up"), "left_hand": (0.09, "limb"), "right_hand": (0.09, "limb"),
           "left_foot": (0.08, "forward"), "right_foot": (0.08, "forward")}  # fmt: skip

_ARMS = ("collar", "shoulder", "elbow", "wrist", "hand")
_LEGS = ("hip", "knee", "ankle", "foot")
COLLECTIONS = ("Body", "Arms", "Legs", "Root")


def collection_of(name: str) -> str:
    """Bone collection of a rig bone: ``Root``, ``Arms``, ``Legs`` or ``Body``."""
    if name == ROOT_BONE:
        return "Root"
    part = name.split("_", 1)[-1]
    return "Arms" if part in _ARMS else "Legs" if part in _LEGS else "Body"


@dataclass(frozen=True)
class RigRest:
    """Rest layout of the rig (Blender Z-up, armature space, metres).

    Attributes:
        names: (B,) bone names (``BONE_NAMES``); parents: (B,) int, root -1.
        heads, tails: (B, 3) float64.
        matrices: (B, 3, 3) float64 rest orientations (columns: the bone's X, Y (along the bone), Z axes).
        connected: (B,) bool, the bone's head sits on its parent's tail.
        lift: (3,) float64, added to every SMPL rest joint (mapped to Z-up) to stand the rig on the floor.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    heads: np.ndarray
    tails: np.ndarray
    matrices: np.ndarray
    connected: np.ndarray
    lift: np.ndarray

    @property
    def z_axes(self) -> np.ndarray:
        """(B, 3) each bone's Z axis (what ``EditBone.align_roll`` takes)."""
        return self.matrices[:, :, 2]


def bone_matrices(heads: np.ndarray, tails: np.ndarray, x_hints: np.ndarray) -> np.ndarray:
    """(B, 3, 3) bone frames: Y along head->tail, X as close to ``x_hints`` as is perpendicular, Z = X x Y."""
    y = rotations.unit(tails - heads)
    x = rotations.unit(x_hints - np.sum(x_hints * y, axis=-1, keepdims=True) * y)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def rig_rest(skeleton=None) -> RigRest:
    """Rest layout from a ``shared.skeleton.Skeleton`` (default: the EDGE/MACE skeleton)."""
    skeleton = skeleton or smpl_skeleton.Skeleton.default()
    joints = smpl_to_blender_points(skeleton.rest_positions())
    lift = np.array([0.0, 0.0, FOOT_JOINT_HEIGHT - joints[:, 2].min()])
    joints = joints + lift
    index = smpl_skeleton.JOINT_INDEX
    children = {name: [] for name in smpl_skeleton.JOINT_NAMES}
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            children[smpl_skeleton.JOINT_NAMES[parent]].append(smpl_skeleton.JOINT_NAMES[j])

    heads = np.vstack([[0.0, 0.0, 0.0], joints])
    tails = np.empty_like(heads)
    tails[0] = [0.0, ROOT_LENGTH, 0.0]
    x_hints = np.tile([1.0, 0.0, 0.0], (len(BONE_NAMES), 1))
    for j, name in enumerate(smpl_skeleton.JOINT_NAMES):
        head = joints[j]
        if name in _LEAVES:
            length, how = _LEAVES[name]
            if how == "up":
                direction = np.array([0.0, 0.0, 1.0])
            else:
                direction = head - joints[skeleton.parents[j]]
                if how == "forward":
                    direction = direction * [1.0, 1.0, 0.0]
            tails[j + 1] = head + length * rotations.unit(direction)
        else:
            tails[j + 1] = joints[index[_TAIL_CHILD.get(name, children[name][0] if children[name] else name)]]
        if collection_of(name) == "Arms":  # bend axis vertical, mirrored left/right
            x_hints[j + 1] = [0.0, 0.0, 1.0 if name.startswith("left") else -1.0]
    parents = np.concatenate([[-1], np.asarray(skeleton.parents) + 1])
    parents[1] = 0  # the pelvis hangs from the root
    connected = np.zeros(len(BONE_NAMES), dtype=bool)
    for b in range(2, len(BONE_NAMES)):
        connected[b] = np.allclose(heads[b], tails[parents[b]], atol=1e-9)
    return RigRest(BONE_NAMES, parents, heads, tails, bone_matrices(heads, tails, x_hints), connected, lift)


@dataclass(frozen=True)
class RigFrames:
    """What the rotation conversion needs from a built rig (read back from Blender, or a :class:`RigRest`).

    Attributes:
        matrices: (B, 3, 3) rest orientation of every bone of ``BONE_NAMES`` (``Bone.matrix_local``).
        heads: (B, 3) rest heads, armature space.
        lift: (3,) the rig's :attr:`RigRest.lift`.
    """

    matrices: np.ndarray
    heads: np.ndarray
    lift: np.ndarray


def joint_frames(frames) -> np.ndarray:
    """(24, 3, 3) each joint bone's rest orientation expressed in SMPL axes: ``C_j = A^T B_j``.

    A pose-bone rotation P_j and the SMPL local rotation L_j are related by ``L_j = C_j P_j C_j^T``.
    """
    from .axes import SMPL_TO_BLENDER

    return SMPL_TO_BLENDER.T @ np.asarray(frames.matrices, dtype=np.float64)[1:]
