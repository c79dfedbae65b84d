"""Put the dance on the user's own armature: read its rest pose, write the retargeted keys as a new action,
and set the scene up so Blender's Render Animation writes the dance video with the music."""

from __future__ import annotations

import bpy
import numpy as np

from .._shared import errors, skeleton as smpl_skeleton
from .. import compat
from ..convert import retarget as convert
from ..convert.axes import blender_to_smpl_points
from ..convert.smpl_to_armature import interleave, location_data_path, rotation_data_path
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
        lengths=np.array([bone.length for bone in bones]), world=np.array(obj.matrix_world, dtype=np.float64))


def source_dance(smpl_obj, scene) -> tuple[convert.SourceDance, np.ndarray]:
    """What the animator sees on the SMPL rig (take + edit layer) as a source dance, and its Blender frames."""
    motion = exporter.export_motion(smpl_obj, scene)
    _, frames = exporter.sampling(smpl_obj, scene)
    rig_frames = armature_glue.rig_frames(smpl_obj)
    skeleton = smpl_skeleton.Skeleton.from_joint_positions(blender_to_smpl_points(rig_frames.heads[1:] - rig_frames.lift))
    return convert.source_from_motion(motion, skeleton), frames


def write_retargeted(target, result: convert.Retargeted, rig_info: convert.TargetRig, frames: np.ndarray,
                     name: str, fps: float) -> bpy.types.Action:
    """A new action ``name`` on ``target`` with the retargeted keys (its previous action kept, fake user)."""
    from . import action as action_glue
    from ..convert.smpl_to_armature import FCurveKeys

    curves = []
    hips = rig_info.names[result.hips]
    curves += [FCurveKeys(location_data_path(hips), i, hips, interleave(frames, result.location[:, i])) for i in range(3)]
    for k, b in enumerate(result.bones):
        bone = rig_info.names[b]
        curves += [FCurveKeys(rotation_data_path(bone), i, bone, interleave(frames, result.quaternions[:, k, i]))
                   for i in range(4)]
    action = action_glue.write_action(target, name, curves, fps=fps, frame_start=int(frames[0]),
                                      num_frames=len(frames))
    anim = target.animation_data or target.animation_data_create()
    if anim.action is not None:
        anim.action.use_fake_user = True
    compat.assign_action(target, action)
    for b in result.bones:
        target.pose.bones[rig_info.names[b]].rotation_mode = "QUATERNION"
    return action


def retarget_onto(context, smpl_obj, target, mapping: dict[str, str]) -> bpy.types.Action:
    """Transfer the SMPL rig's dance onto ``target`` (an armature) using ``mapping`` (SMPL joint -> bone)."""
    armature_glue.check_smpl_armature(smpl_obj)
    if target is None or target.type != "ARMATURE" or target == smpl_obj:
        raise errors.InvalidInputError("pick your character's armature as the retarget target",
                                       hint="choose an armature other than the SMPL dancer in the Retarget panel")
    source, frames = source_dance(smpl_obj, context.scene)
    rig_info = target_rig(target)
    result = convert.retarget(source, rig_info, mapping)
    take = exporter.source_action(smpl_obj)
    return write_retargeted(target, result, rig_info, frames, f"{take.name} on {target.name}", source.fps)


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
