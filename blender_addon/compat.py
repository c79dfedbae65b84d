"""Every difference between the Blender versions the add-on supports (4.2 LTS to 5.0), in one place.

Detection is by feature, never by version number; the comment on each helper names the versions.
Glue code calls these helpers and never branches on the Blender version itself.
"""

from __future__ import annotations

import bpy

try:  # the module exists in every supported version; its helpers differ (see below)
    from bpy_extras import anim_utils
except ImportError:  # pragma: no cover - stripped-down builds
    anim_utils = None


def has_slotted_actions() -> bool:
    """Blender 4.4+ binds an action to an ID through a slot; 4.2/4.3 have a flat ``action.fcurves``."""
    return "slots" in bpy.types.Action.bl_rna.properties


def assign_action(obj: bpy.types.Object, action: bpy.types.Action) -> None:
    """Make ``action`` the active action of ``obj`` (creating its slot on 4.4+)."""
    anim = obj.animation_data or obj.animation_data_create()
    anim.action = action
    if has_slotted_actions():
        slot = anim.action_slot
        if slot is None:
            slot = action.slots[0] if len(action.slots) else action.slots.new(id_type="OBJECT", name=obj.name)
            anim.action_slot = slot


def channel_owner(obj: bpy.types.Object, action: bpy.types.Action, ensure: bool = False):
    """The collection that holds ``obj``'s F-curves and groups in ``action``, or None if there is none yet.

    5.0: ``anim_utils.action_ensure_channelbag_for_slot``; 4.4/4.5: ``strip.channelbag(slot, ensure=True)``
    on the first keyframe strip (``action.fcurves`` there is only a legacy proxy, gone in 5.0);
    4.2/4.3: the action itself. The result has ``.fcurves`` and ``.groups`` in every version.
    """
    if not has_slotted_actions():
        return action
    anim = obj.animation_data
    slot = anim.action_slot if anim is not None and anim.action == action else None
    if slot is None:
        if not ensure:
            return None
        assign_action(obj, action)
        slot = obj.animation_data.action_slot
    if ensure and hasattr(anim_utils, "action_ensure_channelbag_for_slot"):
        return anim_utils.action_ensure_channelbag_for_slot(action, slot)
    if not ensure and hasattr(anim_utils, "action_get_channelbag_for_slot"):
        return anim_utils.action_get_channelbag_for_slot(action, slot)
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot, ensure=ensure)
            if bag is not None:
                return bag
    if not ensure:
        return None
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def new_fcurve(owner, data_path: str, index: int, group) -> bpy.types.FCurve:
    """Create one F-curve in ``owner`` (see :func:`channel_owner`) and put it in ``group``.

    ``fcurves.new`` takes ``action_group=`` on 4.2/4.3, nothing on 4.4/4.5 channelbags and ``group_name=``
    on 5.0, so the group is assigned afterwards, which works everywhere.
    """
    fcurve = owner.fcurves.new(data_path, index=index)
    fcurve.group = group
    return fcurve


def sound_strips(scene: bpy.types.Scene):
    """The scene's top-level sequencer strips: ``strips`` (4.4+; the only name in 5.0) or ``sequences``."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def pose_bone_selected(pose_bone: bpy.types.PoseBone) -> bool:
    """Selection moved from ``Bone.select`` to ``PoseBone.select`` in 5.0."""
    if "select" in pose_bone.bl_rna.properties:
        return bool(pose_bone.select)
    return bool(pose_bone.bone.select)


def enum_value(rna_struct, prop: str, identifier: str) -> int:
    """Integer value of an enum item, looked up through RNA (for ``foreach_set``), not a magic number."""
    return rna_struct.bl_rna.properties[prop].enum_items[identifier].value


def extension_user_dir(package: str) -> str | None:
    """Per-user writable folder of an extension (4.2+); None for a legacy add-on install."""
    try:
        return bpy.utils.extension_path_user(package, create=True)
    except (AttributeError, ValueError, KeyError):
        return None
