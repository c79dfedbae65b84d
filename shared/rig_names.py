"""Bone naming: how names are compared, and the naming conventions of the rigs animators use.

One home for what both the add-on (retargeting onto a character) and the backend (reading a BVH take) need to
recognise a skeleton by its bone names. Numpy-free, importable in Blender.
"""

from __future__ import annotations

import re

from .skeleton import JOINT_NAMES

#: Per naming convention: SMPL joint -> bone name (``{side}`` is left/right; ``{s}`` L/R, ``{S}`` Left/Right,
#: ``{l}`` l/r). Each SMPL joint names the bone spanning the same body segment (SMPL ``left_elbow`` turns the
#: forearm).
CONVENTIONS: dict[str, dict[str, str]] = {
    # Blender's human metarig (Add > Armature > Human) and the Rigify metarig share these names.
    "rigify": {
        "pelvis": "spine", "spine1": "spine.001", "spine2": "spine.002", "spine3": "spine.003",
        "neck": "spine.004", "head": "spine.006",
        "{side}_collar": "shoulder.{s}", "{side}_shoulder": "upper_arm.{s}", "{side}_elbow": "forearm.{s}",
        "{side}_wrist": "hand.{s}", "{side}_hip": "thigh.{s}", "{side}_knee": "shin.{s}",
        "{side}_ankle": "foot.{s}", "{side}_foot": "toe.{s}",
    },
    # Auto-Rig Pro's FK controls: ``c_`` marks a controller, ``.x`` the middle, ``.l``/``.r`` the sides (its manual,
    # lucky3d.fr/auto-rig-pro/doc/rig_behaviour_doc.html, "Naming"). The names as its own code spells them: the
    # limb lists ``fk_arm``/``fk_leg`` of its rig_functions.py, the spine, neck, head and ``c_root_master.x`` (the
    # hips, "set as root") of its remap preset remap_presets/deepmotion.bmap and of auto_rig_remap.py's bone
    # guessing (checked against the public copy at github.com/QuadraticForm/x_auto_rig_pro).
    "auto_rig_pro": {
        "pelvis": "c_root_master.x", "spine1": "c_spine_01.x", "spine2": "c_spine_02.x", "spine3": "c_spine_03.x",
        "neck": "c_neck.x", "head": "c_head.x",
        "{side}_collar": "c_shoulder.{l}", "{side}_shoulder": "c_arm_fk.{l}", "{side}_elbow": "c_forearm_fk.{l}",
        "{side}_wrist": "c_hand_fk.{l}", "{side}_hip": "c_thigh_fk.{l}", "{side}_knee": "c_leg_fk.{l}",
        "{side}_ankle": "c_foot_fk.{l}", "{side}_foot": "c_toes_fk.{l}",
    },
    "mixamo": {
        "pelvis": "mixamorig:Hips", "spine1": "mixamorig:Spine", "spine2": "mixamorig:Spine1",
        "spine3": "mixamorig:Spine2", "neck": "mixamorig:Neck", "head": "mixamorig:Head",
        "{side}_collar": "mixamorig:{S}Shoulder", "{side}_shoulder": "mixamorig:{S}Arm",
        "{side}_elbow": "mixamorig:{S}ForeArm", "{side}_wrist": "mixamorig:{S}Hand",
        "{side}_hip": "mixamorig:{S}UpLeg", "{side}_knee": "mixamorig:{S}Leg", "{side}_ankle": "mixamorig:{S}Foot",
        "{side}_foot": "mixamorig:{S}ToeBase",
    },
    "unreal": {  # UE4/UE5 mannequin
        "pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_02", "spine3": "spine_03", "neck": "neck_01",
        "head": "head", "{side}_collar": "clavicle_{l}", "{side}_shoulder": "upperarm_{l}",
        "{side}_elbow": "lowerarm_{l}", "{side}_wrist": "hand_{l}", "{side}_hip": "thigh_{l}",
        "{side}_knee": "calf_{l}", "{side}_ankle": "foot_{l}", "{side}_foot": "ball_{l}",
    },
    "smpl": {name: name for name in JOINT_NAMES},
}  # fmt: skip
# A rig Rigify generated from that metarig: its ORG- bones are the metarig's bones (the skeleton its controls
# move; blender_addon.convert.control_rig keys the controls).
CONVENTIONS["rigify_generated"] = {joint: f"ORG-{bone}" for joint, bone in CONVENTIONS["rigify"].items()}

SIDES = {"left": {"s": "L", "S": "Left", "l": "l"}, "right": {"s": "R", "S": "Right", "l": "r"}}


def expand(pattern: str, side: str) -> str:
    """``pattern`` with its side placeholders filled for ``side`` (left/right)."""
    return pattern.format(side=side, **SIDES[side])


def convention_names(convention: str) -> dict[str, str]:
    """SMPL joint -> bone name for one convention, both sides spelled out."""
    names = {}
    for joint, bone in CONVENTIONS[convention].items():
        for side in SIDES if "{side}" in joint else ("left",):
            names[expand(joint, side)] = expand(bone, side)
    return names


def normalise(name: str) -> str:
    """The part of a bone name that identifies it: case, separators (space ``_ . -``) and a namespace prefix
    (``mixamorig1:``, ``Armature|``) do not matter, so ``mixamorig7:Left_Arm`` ~ ``leftarm``."""
    return re.sub(r"[\s_.\-]", "", re.split(r"[:|]", name)[-1]).lower()
