"""Build the dancer's rig (and its body mesh) and recognise one.

The layout is :mod:`blender_addon.convert.rig`; this module only puts it into Blender and reads back the
rest frames the rotation conversion needs.
"""

from __future__ import annotations

import bpy
import numpy as np

from .._shared import body_mesh, errors
from ..convert import rig

#: Custom properties on an armature built by this add-on: the shape it was built for, and its floor lift.
PROP_BETAS = "mace_betas"
PROP_GENDER = "mace_gender"
PROP_LIFT = "mace_lift"
NOT_SMPL_HINT = "select an armature made by the Dance panel (Generate or Import motion) and try again"
BODY_SUFFIX = " body"


def build_armature(collection: bpy.types.Collection, rest: body_mesh.RigRest, name: str = "SMPL",
                   betas: np.ndarray | None = None, gender: str = "neutral") -> bpy.types.Object:
    """Create an armature object in ``collection`` with the rig ``rest`` (root + one bone per SMPL joint)."""
    data = bpy.data.armatures.new(name)
    data.display_type = "OCTAHEDRAL"
    obj = bpy.data.objects.new(name, data)
    obj.show_in_front = True
    collection.objects.link(obj)
    _create_bones(obj, rest)
    obj[PROP_BETAS] = [float(b) for b in (betas if betas is not None else np.zeros(10))]
    obj[PROP_GENDER] = gender
    obj[PROP_LIFT] = [float(v) for v in rest.lift]
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    return obj


def _create_bones(obj: bpy.types.Object, rest: body_mesh.RigRest) -> None:
    """Edit bones can only be made in edit mode; enter it on ``obj`` alone and always leave it."""
    view_layer = bpy.context.view_layer
    previous_active = view_layer.objects.active
    view_layer.objects.active = obj
    collections = {name: obj.data.collections.new(name) for name in rig.COLLECTIONS}
    try:
        with bpy.context.temp_override(active_object=obj, object=obj, selected_objects=[obj],
                                       selected_editable_objects=[obj]):
            bpy.ops.object.mode_set(mode="EDIT")
            try:
                edit_bones = obj.data.edit_bones
                for b, name in enumerate(rest.names):
                    bone = edit_bones.new(name)
                    bone.head, bone.tail = rest.heads[b].tolist(), rest.tails[b].tolist()
                    bone.align_roll(rest.z_axes[b].tolist())
                    collections[rig.collection_of(name)].assign(bone)
                for b, name in enumerate(rest.names):
                    if rest.parents[b] >= 0:
                        edit_bones[name].parent = edit_bones[rest.names[rest.parents[b]]]
                        edit_bones[name].use_connect = bool(rest.connected[b])
            finally:
                bpy.ops.object.mode_set(mode="OBJECT")
    finally:
        view_layer.objects.active = previous_active


def add_body(armature: bpy.types.Object, body: body_mesh.BodyMesh) -> bpy.types.Object:
    """A mesh object ``body`` parented to ``armature``, skinned by an Armature modifier and vertex groups."""
    name = armature.name + BODY_SUFFIX
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(body.vertices.tolist(), [], body.faces)
    mesh.update()
    for polygon in mesh.polygons:
        polygon.use_smooth = True
    obj = bpy.data.objects.new(name, mesh)
    for collection in armature.users_collection:
        collection.objects.link(obj)
    obj.parent = armature
    for b, bone in enumerate(body_mesh.BONE_NAMES):  # the weight columns' order
        column = body.weights[:, b]
        used = np.flatnonzero(column > 0)
        if not len(used):
            continue
        group = obj.vertex_groups.new(name=bone)
        for weight in np.unique(column[used]):  # one call per distinct weight (few for the procedural body)
            group.add(used[column[used] == weight].tolist(), float(weight), "REPLACE")
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    obj.hide_select = True  # the animator selects bones, not the skin
    return obj


def check_smpl_armature(obj) -> None:
    """Raise ``InvalidInputError`` (naming what is wrong) unless ``obj`` is a rig made by this add-on."""
    if obj is None or obj.type != "ARMATURE":
        kind = "nothing" if obj is None else f"{obj.name!r} ({obj.type.lower()})"
        raise errors.InvalidInputError(f"the active object is {kind}, not an SMPL armature", hint=NOT_SMPL_HINT)
    bones = obj.data.bones
    missing = [name for name in body_mesh.BONE_NAMES if name not in bones]
    if missing:
        raise errors.InvalidInputError(
            f"armature {obj.name!r} is not an SMPL armature: {len(missing)} of its bones missing "
            f"(first: {missing[0]!r})", hint=NOT_SMPL_HINT)
    if PROP_LIFT not in obj:
        raise errors.InvalidInputError(
            f"armature {obj.name!r} was made by an older version of the add-on",
            hint="import its motion again (Import Motion) to get the current rig")


def rig_frames(obj) -> rig.RigFrames:
    """Rest orientations and heads of the rig's bones as Blender stores them, plus its lift."""
    bones = [obj.data.bones[name] for name in body_mesh.BONE_NAMES]
    matrices = np.array([np.array(bone.matrix_local)[:3, :3] for bone in bones], dtype=np.float64)
    u, _, vt = np.linalg.svd(matrices)  # Blender keeps them in float32: the nearest exact rotations
    matrices = u @ vt
    heads = np.array([bone.head_local for bone in bones], dtype=np.float64)
    return rig.RigFrames(matrices, heads, np.asarray(obj[PROP_LIFT], dtype=np.float64))


def is_smpl_armature(obj) -> bool:
    """Whether ``obj`` is an armature made by this add-on (an SMPL dancer)."""
    if obj is None or obj.type != "ARMATURE":
        return False
    try:
        check_smpl_armature(obj)
    except errors.InvalidInputError:
        return False
    return True


def find_smpl_armature(context) -> bpy.types.Object | None:
    """The SMPL dancer the panel works on: the one picked as Dancer, else the active object when it is one,
    else the scene's only one; None when there is none (or several and none picked)."""
    scene = getattr(context, "scene", None)
    picked = scene.mace_dance.dancer if scene is not None and hasattr(scene, "mace_dance") else None
    if is_smpl_armature(picked) and scene.objects.get(picked.name) == picked:
        return picked
    if is_smpl_armature(context.active_object):
        return context.active_object
    found = [obj for obj in (scene.objects if scene is not None else ()) if is_smpl_armature(obj)]
    return found[0] if len(found) == 1 else None
