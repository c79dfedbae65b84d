"""Build the SMPL armature and recognise one.

Every bone rests with the same orientation (head at the joint, tail straight up +Z, roll 0), so the
bone-local frame equals the SMPL frame (see ``blender_addon.convert``).
"""

from __future__ import annotations

import bpy
import numpy as np

from .._shared import errors, skeleton as smpl_skeleton
from ..convert.axes import BONE_REST_MATRIX
from ..convert.smpl_to_armature import ArmatureRest

#: Custom property marking an armature built by this add-on, and the shape it was built for.
PROP_BETAS = "mace_betas"
PROP_GENDER = "mace_gender"
NOT_SMPL_HINT = "select an armature made by the Dance panel (Generate or Import motion) and try again"


def build_armature(collection: bpy.types.Collection, rest: ArmatureRest, name: str = "SMPL",
                   betas: np.ndarray | None = None, gender: str = "neutral") -> bpy.types.Object:
    """Create an armature object in ``collection`` with one bone per SMPL joint (rest pose ``rest``)."""
    data = bpy.data.armatures.new(name)
    data.display_type = "STICK"
    obj = bpy.data.objects.new(name, data)
    obj.show_in_front = True
    collection.objects.link(obj)
    _create_bones(obj, rest)
    obj[PROP_BETAS] = [float(b) for b in (betas if betas is not None else np.zeros(10))]
    obj[PROP_GENDER] = gender
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    return obj


def _create_bones(obj: bpy.types.Object, rest: ArmatureRest) -> None:
    """Edit bones can only be made in edit mode; enter it on ``obj`` alone and always leave it."""
    view_layer = bpy.context.view_layer
    previous_active = view_layer.objects.active
    view_layer.objects.active = obj
    try:
        with bpy.context.temp_override(active_object=obj, object=obj, selected_objects=[obj],
                                       selected_editable_objects=[obj]):
            bpy.ops.object.mode_set(mode="EDIT")
            try:
                edit_bones = obj.data.edit_bones
                for name, head, tail in zip(rest.names, rest.heads, rest.tails):
                    bone = edit_bones.new(name)
                    bone.head, bone.tail, bone.roll = head.tolist(), tail.tolist(), 0.0
                for name, parent in zip(rest.names, rest.parents):
                    if parent >= 0:
                        edit_bones[name].parent = edit_bones[rest.names[parent]]
            finally:
                bpy.ops.object.mode_set(mode="OBJECT")
    finally:
        view_layer.objects.active = previous_active


def check_smpl_armature(obj) -> None:
    """Raise ``InvalidInputError`` (naming what is wrong) unless ``obj`` is an SMPL armature of this add-on's
    layout: 24 bones named by SMPL joint, each resting along +Z with roll 0."""
    if obj is None or obj.type != "ARMATURE":
        kind = "nothing" if obj is None else f"{obj.name!r} ({obj.type.lower()})"
        raise errors.InvalidInputError(f"the active object is {kind}, not an SMPL armature", hint=NOT_SMPL_HINT)
    bones = obj.data.bones
    missing = [name for name in smpl_skeleton.JOINT_NAMES if name not in bones]
    if missing:
        raise errors.InvalidInputError(
            f"armature {obj.name!r} is not an SMPL armature: {len(missing)} SMPL bones missing "
            f"(first: {missing[0]!r})", hint=NOT_SMPL_HINT)
    for name in smpl_skeleton.JOINT_NAMES:
        rest = np.array(bones[name].matrix_local)[:3, :3]
        if not np.allclose(rest, BONE_REST_MATRIX, atol=1e-4):
            raise errors.InvalidInputError(
                f"bone {name!r} of armature {obj.name!r} does not rest along +Z with roll 0, so SMPL rotations "
                "cannot be read from it", hint="re-import the motion to get a fresh SMPL armature")


def rest_heads(obj) -> np.ndarray:
    """(J, 3) float64 rest head positions of the SMPL bones, metres, Blender Z-up, armature space."""
    return np.array([obj.data.bones[name].head_local for name in smpl_skeleton.JOINT_NAMES], dtype=np.float64)


def find_smpl_armature(context) -> bpy.types.Object | None:
    """The active object if it is an SMPL armature, else None."""
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        return None
    try:
        check_smpl_armature(obj)
    except errors.InvalidInputError:
        return None
    return obj
