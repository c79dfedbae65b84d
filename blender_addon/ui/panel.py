"""The Dance tab: music -> Generate -> edit -> Render with reference, with progress and errors in place."""

from __future__ import annotations

import bpy

from .. import _wheels, jobs, properties
from ..bpy_glue import armature as armature_glue, takes
from .motion_expert import draw_motion_expert


def wrapped_label(layout, text: str, icon: str = "NONE", width_px: int | None = None) -> None:
    """``text`` over as many lines as the sidebar's width needs (a label alone is cut in the middle)."""
    import textwrap

    region = getattr(bpy.context, "region", None)
    width = width_px if width_px is not None else (region.width if region is not None else 300)
    scale = (bpy.context.preferences.system.ui_scale if bpy.context.preferences else 0.0) or 1.0  # 0 headless
    chars = max(20, int(width / (7.5 * scale)) - 4)  # ~7 px a character, the icon and margins
    for i, line in enumerate(textwrap.wrap(text, chars) or [""]):
        layout.label(text=line, icon=icon if i == 0 else "BLANK1")


def draw_missing_dependencies(layout) -> bool:
    """A clear box when pyzmq/msgpack cannot be imported; True when something is missing."""
    missing = _wheels.missing_dependencies()
    if not missing:
        return False
    problem, fix = _wheels.missing_dependencies_message(missing)
    box = layout.box().column(align=True)
    box.alert = True
    wrapped_label(box, problem, icon="ERROR")
    wrapped_label(box, fix, icon="QUESTION")
    return True


def draw_status(layout, status) -> None:
    """Progress with Cancel while a job runs; the last error and its fix otherwise."""
    if status.busy:
        row = layout.row(align=True)
        if hasattr(row, "progress"):  # UILayout.progress exists from 4.0
            row.progress(factor=status.progress, type="BAR", text=status.message or "working…")
        else:
            row.prop(status, "progress", text=status.message or "working…", slider=True)
        row.operator("mace.cancel", text="", icon="CANCEL")
    elif status.message:
        wrapped_label(layout, status.message, icon="INFO")
    if status.error:
        box = layout.box().column(align=True)
        box.alert = True
        wrapped_label(box, status.error, icon="ERROR")
        if status.hint:
            wrapped_label(box, status.hint, icon="QUESTION")


def draw_job(layout, context, *origins: str) -> None:
    """The job a panel's buttons started (``status.origin`` among ``origins``), in place: progress and Cancel,
    or its error and fix."""
    status = properties.status(context)
    if status.origin in origins:
        draw_status(layout, status)


def draw_job_header(layout, context, origin: str) -> None:
    """In the header of the panel whose button started the job (seen even when the panel is scrolled or
    folded): its progress while it runs, a red mark when it failed."""
    status = properties.status(context)
    if status.origin != origin:
        return
    if status.busy:
        layout.label(text=f"{status.progress:.0%}", icon="SORTTIME")
    elif status.error:
        row = layout.row()
        row.alert = True
        row.label(text="failed", icon="ERROR")


class _DancePanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Dance"
    #: The ``status.origin`` of the jobs this panel's buttons start ("" = none).
    job_origin = ""

    def draw_header_preset(self, context):
        if self.job_origin:
            draw_job_header(self.layout, context, self.job_origin)


def split_layout(layout):
    """``layout`` with labels left of the fields, as in Blender's own property panels."""
    layout.use_property_split = True
    layout.use_property_decorate = False
    return layout


def draw_dancer(layout, context) -> None:
    """Which SMPL dancer the panel works on, and the button that picks the active one."""
    row = layout.row(align=True)
    row.prop(properties.settings(context), "dancer")
    row.operator("mace.use_smpl_dancer", text="", icon="EYEDROPPER")


def draw_generate(layout, context) -> None:
    """Music and the settings of a generation, then Generate."""
    settings = properties.settings(context)
    col = layout.column()
    col.prop(settings, "music_path")
    col.prop(settings, "genre")
    col.prop(settings, "seed")
    col.prop(settings, "start_s")
    col.prop(settings, "length_s")
    row = layout.row()
    row.scale_y = 1.4
    row.operator("mace.generate", icon="PLAY_SOUND")


def draw_edit(layout, context) -> None:
    """Regenerate the selection; import and export motion files."""
    layout.operator("mace.regenerate_selection", icon="FILE_REFRESH")
    row = layout.row(align=True)
    row.operator("mace.import_motion", text="Import", icon="IMPORT")
    row.operator("mace.export_motion", text="Export", icon="EXPORT")


class MACE_PT_dance(_DancePanel, bpy.types.Panel):
    bl_idname = "MACE_PT_dance"
    bl_label = "Dance"
    job_origin = "dance"

    def draw(self, context):
        layout = split_layout(self.layout)
        draw_missing_dependencies(layout)
        draw_dancer(layout, context)
        draw_generate(layout, context)
        draw_job(layout, context, "dance", "")  # "": a job from elsewhere (a script) shows here
        draw_edit(layout, context)


class MACE_PT_dance_takes(_DancePanel, bpy.types.Panel):
    bl_idname = "MACE_PT_dance_takes"
    bl_label = "Takes"
    bl_parent_id = "MACE_PT_dance"

    @classmethod
    def poll(cls, context):
        return armature_glue.find_smpl_armature(context) is not None

    def draw(self, context):
        layout = self.layout
        obj = armature_glue.find_smpl_armature(context)
        tracks = takes.take_tracks(obj)
        if not tracks:
            wrapped_label(layout, "Generate or import a dance to make a take", icon="INFO")
        live = takes.active_take(obj)
        col = layout.column(align=True)
        for track in reversed(tracks):  # newest first
            is_live = live is not None and track.strips[0] == live
            op = col.operator("mace.use_take", text=track.strips[0].action.name,
                              icon="RADIOBUT_ON" if is_live else "RADIOBUT_OFF", depress=is_live)
            op.track = track.name
        layer = obj.animation_data.action if obj.animation_data else None
        if layer is not None:
            wrapped_label(layout, f"Your keys go on '{layer.name}', above the take", icon="GREASEPENCIL")


def joint_label(joint: str) -> str:
    """How an SMPL joint reads in the bone map, where it gets a third of the sidebar: ``left_shoulder`` ->
    ``L shoulder``."""
    side, _, part = joint.partition("_")
    return f"{side[0].upper()} {part}" if side in ("left", "right") else joint


class MACE_PT_dance_retarget(_DancePanel, bpy.types.Panel):
    bl_idname = "MACE_PT_dance_retarget"
    bl_label = "Your Character"
    bl_parent_id = "MACE_PT_dance"
    bl_options = {"DEFAULT_CLOSED"}
    job_origin = "retarget"

    def draw(self, context):
        layout = self.layout
        settings = properties.settings(context)
        split_layout(layout.column()).prop(settings, "retarget_target")
        target = settings.retarget_target
        row = layout.row(align=True)
        row.operator("mace.auto_map", icon="BONE_DATA")
        row.operator("mace.load_bone_map", text="", icon="FILEBROWSER")
        row.operator("mace.save_bone_map", text="", icon="FILE_TICK")
        if target is not None and len(target.mace_bone_map):
            box = layout.box().column(align=True)
            for pair in target.mace_bone_map:
                row = box.row(align=True).split(factor=0.36, align=True)
                row.label(text=joint_label(pair.joint))
                row.prop_search(pair, "bone", target.data, "bones", text="")
        row = layout.row()
        row.scale_y = 1.3
        row.operator("mace.retarget", icon="ARMATURE_DATA")
        draw_job(layout, context, "retarget")


class MACE_PT_dance_render(_DancePanel, bpy.types.Panel):
    bl_idname = "MACE_PT_dance_render"
    bl_label = "Render Video"
    bl_parent_id = "MACE_PT_dance"
    job_origin = "render"

    def draw(self, context):
        layout = split_layout(self.layout)
        settings = properties.settings(context)
        status = properties.status(context)
        layout.prop(settings, "reference_image")
        layout.prop(settings, "output_path")
        col = layout.column(align=True)
        col.prop(settings, "width", text="Size W")
        col.prop(settings, "height", text="H")
        layout.prop(settings, "body")
        layout.prop(settings, "save_pose_video")
        row = layout.row()
        row.scale_y = 1.3
        row.operator("mace.render_reference", icon="RENDER_ANIMATION")
        draw_job(layout, context, "render")
        if status.last_output:
            wrapped_label(layout, f"Last video: {bpy.path.basename(status.last_output)}", icon="FILE_MOVIE")


class MACE_PT_dance_backend(_DancePanel, bpy.types.Panel):
    bl_idname = "MACE_PT_dance_backend"
    bl_label = "Backend"
    bl_parent_id = "MACE_PT_dance"
    bl_options = {"DEFAULT_CLOSED"}
    job_origin = "backend"

    def draw(self, context):
        layout = self.layout
        status = properties.status(context)
        wrapped_label(layout, status.backend, icon="LINKED" if status.backend.startswith("backend") else "UNLINKED")
        draw_motion_expert(layout)
        row = layout.row(align=True)
        row.operator("mace.backend_check", icon="FILE_REFRESH")
        if jobs.SESSION.local is not None and jobs.SESSION.local.running:  # only a backend this Blender started
            row.operator("mace.backend_stop", icon="CANCEL")
        else:
            row.operator("mace.backend_start", icon="PLAY")
        draw_job(layout, context, "backend")
