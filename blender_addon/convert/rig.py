"""The dancer's rig in rest pose: bone collections and the frames the rotation conversion needs.

The rest layout itself (bones along the limbs, rolls, the root bone on the floor, ``lift``: ``rig_rest``,
``RigRest``, ``BONE_NAMES``, ``ROOT_BONE``) lives in ``shared/body_mesh.py`` with the body skinned to it -- the
backend's 2.5-D photo body poses the same template.
Because bones no longer share the SMPL frame, rotations are converted by conjugating with each bone's rest
orientation (see :mod:`.smpl_to_armature` and :mod:`.armature_to_smpl`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._shared import body_mesh

COLLECTIONS = ("Body", "Arms", "Legs", "Root")


def collection_of(name: str) -> str:
    """Bone collection of a rig bone: ``Root``, ``Arms``, ``Legs`` or ``Body``."""
    if name == body_mesh.ROOT_BONE:
        return "Root"
    part = name.split("_", 1)[-1]
    return "Arms" if part in body_mesh.ARM_PARTS else "Legs" if part in body_mesh.LEG_PARTS else "Body"


@dataclass(frozen=True)
class RigFrames:
    """What the rotation conversion needs from a built rig (read back from Blender, or a ``body_mesh.RigRest``).

    Attributes:
        matrices: (B, 3, 3) rest orientation of every bone of ``body_mesh.BONE_NAMES`` (``Bone.matrix_local``).
        heads: (B, 3) rest heads, armature space.
        lift: (3,) the rig's ``RigRest.lift``.
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
