"""Render with reference: the edited motion + a reference image -> a dance video from the backend."""

from __future__ import annotations

import os

import bpy

from .._shared import atomic, errors
from .. import jobs, properties
from ..bpy_glue import armature as armature_glue, exporter
from . import common

REFERENCE_HINT = "choose the reference image (png or jpg) of the character in the Dance panel"


def pose_video_path(video_path: str) -> str:
    stem, ext = os.path.splitext(video_path)
    return f"{stem}_pose{ext or '.mp4'}"


class MACE_OT_render_reference(bpy.types.Operator):
    """Export the edited dance and have the backend render it as a video of the reference character"""

    bl_idname = "mace.render_reference"
    job_origin = "render"
    bl_label = "Render Video"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        if jobs.SESSION.busy:
            return common.refuse(cls, common.BUSY_MESSAGE)
        return common.dancer_or_refuse(cls, context)

    def execute(self, context):
        settings = properties.settings(context)
        try:
            dancer = armature_glue.find_smpl_armature(context)
            armature_glue.check_smpl_armature(dancer)
            motion = exporter.export_motion(dancer, context.scene)
            reference = common.existing_file(settings.reference_image, "reference image", REFERENCE_HINT)
            image_bytes = common.read_bytes(reference)
            if not settings.output_path:
                raise errors.InvalidInputError("no output path chosen", hint="set Output in the Dance panel")
            out_path = bpy.path.abspath(settings.output_path)
            if settings.output_path.startswith("//") and not bpy.data.filepath:
                raise errors.InvalidInputError(
                    "the output path is relative to the .blend file, which is not saved yet",
                    hint="save the .blend or choose an absolute output path")
            music = bpy.path.abspath(settings.music_path) if settings.music_path else ""
            audio = common.read_bytes(music) if music and os.path.isfile(music) else None
        except (errors.MaceError, OSError) as exc:
            return common.report_error(self, exc)

        options = {"pose_video": bool(settings.save_pose_video)}
        if settings.body != "AUTO":
            options["body"] = settings.body

        def submit(client):
            return client.submit_render_video(
                motion, image_bytes, audio_bytes=audio, audio_name=os.path.basename(music) if audio else None,
                width=int(settings.width) or None, height=int(settings.height) or None,  # 0 = the photo's frame
                options=options)

        def finish(outcome) -> None:
            atomic.atomic_write_bytes(out_path, outcome.video_bytes)
            if getattr(outcome, "pose_video_bytes", None):
                atomic.atomic_write_bytes(pose_video_path(out_path), outcome.pose_video_bytes)
            properties.update_status({
                "message": f"Saved {outcome.frames} frames ({outcome.made_by}) to {out_path}",
                "last_output": out_path, "progress": 1.0,
            })

        return common.start_job(self, context, "render", submit, finish, origin="render")
