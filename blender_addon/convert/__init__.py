"""SMPL motion <-> Blender armature data, in pure numpy (no bpy), so it is testable without Blender.

Axis convention, stated once for the whole add-on: SMPL is Y-up (the dancer faces +Z, +X is the dancer's
left); Blender is Z-up. A point maps as (x, y, z)_smpl -> (x, -z, y)_blender, i.e. ``SMPL_TO_BLENDER``;
the dancer faces Blender's -Y (the front view).

``rig`` names the dancer's rig (its rest layout and the low-poly body skinned to it live in
``shared/body_mesh.py``, which the backend's 2.5-D photo body uses too); ``smpl_to_armature`` turns a
``shared.motion.Motion`` into keyframe arrays for it and ``armature_to_smpl`` turns what Blender evaluated
back into SMPL rotations; ``retarget`` moves the dance onto another armature.
"""

from .axes import SMPL_TO_BLENDER, blender_to_smpl_points, smpl_to_blender_points

__all__ = ["SMPL_TO_BLENDER", "blender_to_smpl_points", "smpl_to_blender_points"]
