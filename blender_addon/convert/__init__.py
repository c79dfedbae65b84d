"""SMPL motion <-> Blender armature data, in pure numpy (no bpy), so it is testable without Blender.

Axis convention, stated once for the whole add-on: SMPL is Y-up (the dancer faces +Z, +X is the dancer's
left); Blender is Z-up. A point maps as (x, y, z)_smpl -> (x, -z, y)_blender, i.e. ``SMPL_TO_BLENDER``
below. Every bone of the imported armature rests with exactly this orientation (head at the joint, tail
straight up +Z, roll 0), so a bone's local frame *is* the SMPL frame: SMPL axis-angle rotations become pose
quaternions verbatim and ``trans`` becomes the pelvis pose-bone location verbatim.

``smpl_to_armature`` goes from a ``shared.motion.Motion`` to rest bones and keyframe arrays;
``armature_to_smpl`` goes from what Blender evaluated back to a ``Motion``.
"""

from .axes import BONE_REST_MATRIX, SMPL_TO_BLENDER, blender_to_smpl_points, smpl_to_blender_points

__all__ = ["BONE_REST_MATRIX", "SMPL_TO_BLENDER", "blender_to_smpl_points", "smpl_to_blender_points"]
