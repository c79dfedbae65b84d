"""Put the dance on the user's own armature: read its rest pose, write the retargeted keys as a new action,
and set the scene up so Blender's Render Animation writes the dance video with the music."""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

from .._shared import errors, skeleton as smpl_skeleton
from .. import compat
from ..convert import control_rig, retarget as convert
from ..convert.axes import blender_to_smpl_points
from ..convert.smpl_to_armature import interleave, location_data_path, rotation_data_path, scale_data_path
from . import armature as armature_glue, exporter


def target_rig(obj) -> convert.TargetRig:
    """The armature ``obj`` at rest, bones ordered parents first."""
    bones = list(obj.data.bones)
    depth = {bone.name: len(bone.parent_recursive) for bone in bones}
    bones.sort(key=lambda bone: depth[bone.name])
    order = {bone.name: i for i, bone in enumerate(bones)}
    parents = np.array([order[bone.parent.name] if bone.parent else -1 for bone in bones])
    return convert.TargetRig(
        names=tuple(bone.name for bone in bones), parents=parents,
        rest=np.array([np.array(bone.matrix_local) for bone in bones], dtype=np.float64),
        lengths=np.array([bone.length for bone in bones]), world=np.array(obj.matrix_world, dtype=np.float64),
        local_location=np.array([bone.use_local_location for bone in bones]))


def source_dance(smpl_obj, scene) -> tuple[convert.SourceDance, np.ndarray]:
    """What the animator sees on the SMPL rig (take + edit layer) as a source dance, and its Blender frames."""
    fps, local, trans = exporter.sample_local(smpl_obj, scene)
    _, frames = exporter.sampling(smpl_obj, scene)
    rig_frames = armature_glue.rig_frames(smpl_obj)
    skeleton = smpl_skeleton.Skeleton.from_joint_positions(blender_to_smpl_points(rig_frames.heads[1:] - rig_frames.lift))
    return convert.source_from_local(local, trans, fps, skeleton), frames


def write_retargeted(target, result: convert.Retargeted, rig_info: convert.TargetRig, frames: np.ndarray,
                     name: str, fps: float) -> bpy.types.Action:
    """A new action ``name`` on ``target`` with the retargeted keys (its previous action kept, fake user)."""
    from . import action as action_glue
    from ..convert.smpl_to_armature import FCurveKeys

    curves = []
    for k, b in enumerate(result.located):
        bone = rig_info.names[b]
        curves += [FCurveKeys(location_data_path(bone), i, bone, interleave(frames, result.locations[:, k, i]))
                   for i in range(3)]
    for k, b in enumerate(result.bones):
        bone = rig_info.names[b]
        curves += [FCurveKeys(rotation_data_path(bone), i, bone, interleave(frames, result.quaternions[:, k, i]))
                   for i in range(4)]
    for k, b in enumerate(result.scaled):
        bone = rig_info.names[b]
        curves += [FCurveKeys(scale_data_path(bone), i, bone, interleave(frames, result.scales[:, k])) for i in range(3)]
    action = action_glue.write_action(target, name, curves, fps=fps, frame_start=int(frames[0]),
                                      num_frames=len(frames))
    anim = target.animation_data or target.animation_data_create()
    if anim.action is not None:
        anim.action.use_fake_user = True
    compat.assign_action(target, action)
    for b in result.bones:
        target.pose.bones[rig_info.names[b]].rotation_mode = "QUATERNION"
    return action


def is_rigify_generated(obj, mapping: dict[str, str]) -> bool:
    """Whether ``obj`` is a rig Rigify generated, mapped through its skeleton (``ORG-`` bones)."""
    return "rig_id" in obj.data and all(bone.startswith("ORG-") for bone in mapping.values())


def rigify_follows(obj) -> dict[str, tuple[str, float]]:
    """{helper bone: (bone, influence)} of the world-space Copy Rotation constraints on Rigify's neck and head
    helpers (their influence is the rig's Neck/Head Follow setting)."""
    follows = {}
    for name in ("MCH-ROT-neck", "MCH-ROT-head"):
        bone = obj.pose.bones.get(name)
        for constraint in bone.constraints if bone else ():
            if constraint.type == "COPY_ROTATION" and constraint.owner_space == "WORLD" and not constraint.mute:
                follows[name] = (constraint.subtarget, float(constraint.influence))
    return follows


def rigify_ik_limbs(obj) -> tuple[str, ...]:
    """The Rigify limbs (``upper_arm.L`` ...) that are in IK (or part IK): their IK controls are keyed too."""
    limbs = []
    for limb in control_rig.RIGIFY_LIMBS:
        name, side = limb.split(".")
        switch = obj.pose.bones.get(f"{name}_parent.{side}")
        if switch is not None and float(switch.get("IK_FK", 1.0)) < 1.0:
            limbs.append(limb)
    return tuple(limbs)


#: Reach ratios at which a Rigify limb's IK is measured (increasing): dense near full reach, where the bend
#: changes fastest; past 1 the solver straightens the limb and stretches it.
IK_REACH_RATIOS = 1.08 - 0.93 * np.linspace(1.0, 0.0, 40) ** 2


def rigify_ik_responses(context, obj, limbs) -> dict[str, control_rig.IkResponse]:
    """How the rig's own IK solver settles each of ``limbs`` (``upper_arm.L`` ...), with the rig's own stretch
    settings: measured on a temporary copy of ``obj`` (its drivers and constraints as they are, its animation
    off; the user's rig is not touched). Each limb's end control and pole rest, the pole is used, and the IK base
    is scaled so that the target sits at each of :data:`IK_REACH_RATIOS` times the chain's length before IK."""
    if not limbs:
        return {}
    chains = {limb: control_rig.RigifyIkChain.of(limb) for limb in limbs}
    copy = obj.copy()  # shares the armature; its own pose, constraints and drivers (which now read the copy)
    context.scene.collection.objects.link(copy)
    try:
        if copy.animation_data is not None:
            copy.animation_data.action = None
            copy.animation_data.use_nla = False
        bones = copy.pose.bones
        for chain in chains.values():
            for name in (chain.base, chain.end, chain.pole):
                bones[name].matrix_basis = Matrix.Identity(4)
            bones[chain.switch]["pole_vector"] = True
        context.view_layer.update()
        length = {limb: bones[c.base].bone.length + bones[c.lower].bone.length for limb, c in chains.items()}
        reach = {limb: (bones[c.target].head - bones[c.base].head).length for limb, c in chains.items()}
        bend, stretch = {limb: [] for limb in chains}, {limb: [] for limb in chains}
        for rho in IK_REACH_RATIOS:
            for limb, chain in chains.items():
                bones[chain.base].scale = [reach[limb] / (rho * length[limb])] * 3
            context.view_layer.update()
            for limb, chain in chains.items():
                base, lower = bones[chain.base], bones[chain.lower]
                before = base.scale[1]
                bend[limb].append(base.y_axis.angle(lower.y_axis, 0.0))
                stretch[limb].append([base.matrix.col[1].length / before, lower.matrix.col[1].length / before])
    finally:
        bpy.data.objects.remove(copy)
    return {limb: control_rig.IkResponse(IK_REACH_RATIOS.copy(), np.array(bend[limb]), np.array(stretch[limb]),
                                         float(length[limb])) for limb in chains}


def rigify_parents(obj) -> dict[str, str]:
    """{helper: bone} for Rigify's parent-switch helpers: the bone each follows now (the heaviest target of its
    Armature constraint, as the rig's parent switches set them)."""
    parents = {}
    for bone in obj.pose.bones:
        for constraint in bone.constraints:
            if constraint.type == "ARMATURE" and len(constraint.targets):
                parents[bone.name] = max(constraint.targets, key=lambda target: target.weight).subtarget
    return parents


def retarget_onto(context, smpl_obj, target, mapping: dict[str, str]) -> bpy.types.Action:
    """Transfer the SMPL rig's dance onto ``target`` (an armature) using ``mapping`` (SMPL joint -> bone)."""
    armature_glue.check_smpl_armature(smpl_obj)
    if target is None or target.type != "ARMATURE" or target == smpl_obj:
        raise errors.InvalidInputError("pick your character's armature as the retarget target",
                                       hint="choose an armature other than the SMPL dancer in the Retarget panel")
    source, frames = source_dance(smpl_obj, context.scene)
    rig_info = target_rig(target)
    ik_limbs: tuple[str, ...] = ()
    if is_rigify_generated(target, mapping):
        skeleton = control_rig.skeleton_of(rig_info, mapping)
        ik_limbs = rigify_ik_limbs(target)
        wanted = {frame.name for frame in control_rig.rigify_layout({}, ik_limbs)}
        wanted |= {name for limb in ik_limbs for name in vars(control_rig.RigifyIkChain.of(limb)).values()}
        missing = sorted(wanted - set(rig_info.names))
        if missing:
            raise errors.InvalidInputError(
                f"this Rigify rig lacks the controls {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}",
                hint="generate the rig from Rigify's Human metarig (or map the ORG- bones of the metarig's "
                     "bones by hand)")
        layout = control_rig.rigify_layout(rigify_follows(target), ik_limbs, rigify_parents(target),
                                           rigify_ik_responses(context, target, ik_limbs))
        posed = convert.pose(source, skeleton, mapping, hinges=True)
        result = control_rig.control_keys(rig_info, skeleton, posed, layout)
    else:
        result = convert.retarget(source, rig_info, mapping)
    take = exporter.source_action(smpl_obj)
    action = write_retargeted(target, result, rig_info, frames, f"{take.name} on {target.name}", source.fps)
    switches = [(control_rig.RigifyIkChain.of(limb).switch, "pole_vector", True) for limb in ik_limbs]
    switches += [(name, "ik_fk_switch", 1.0) for name in auto_rig_pro_switches(target, mapping)]
    for bone, prop, value in switches:  # set, and keyed in this take: Rigify's IK limbs aim at their keyed poles,
        switch = target.pose.bones[bone]  # Auto-Rig Pro's limbs show their keyed FK controls
        switch[prop] = value
        switch.keyframe_insert(f'["{prop}"]', frame=int(frames[0]))
    return action


def auto_rig_pro_switches(obj, mapping: dict[str, str]) -> list[str]:
    """The Auto-Rig Pro controls holding the ``ik_fk_switch`` of the limbs whose FK controls ``mapping`` keys."""
    found = []
    for fk, candidates in control_rig.AUTO_RIG_PRO_SWITCHES.items():
        if fk in mapping.values():
            found += [name for name in candidates if name in obj.pose.bones and "ik_fk_switch" in obj.pose.bones[name]][:1]
    return found


def set_up_video_render(scene, filepath: str = "//dance_") -> None:
    """Make Render Animation write an H.264 MP4 with the scene's sound (the music strip) as AAC."""
    settings = scene.render.image_settings
    if "media_type" in settings.bl_rna.properties:  # 5.0: choose "video" before the FFmpeg format
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    ffmpeg = scene.render.ffmpeg
    ffmpeg.format = "MPEG4"
    ffmpeg.codec = "H264"
    ffmpeg.audio_codec = "AAC"
    ffmpeg.audio_channels = "STEREO"
    scene.render.filepath = filepath
    scene.render.use_file_extension = True
