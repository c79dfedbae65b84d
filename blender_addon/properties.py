"""Panel settings (saved with the .blend, per scene) and job status (per session, never saved)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from ._shared import audio_formats, genres

#: The CPU renderer's body (the backend's ``PuppetOptions.body``): AUTO sends nothing, the backend decides.
BODY_ITEMS = [
    ("AUTO", "Auto", "The 2.5-D body for a photo of a person, the flat 2D puppet for a drawing"),
    ("2.5d", "2.5-D", "The person lifted onto a posed 3D body: arms in front of the body, held things stay whole"),
    ("2d", "2D", "Flat layers deformed in 2D (the drawing's default)"),
]
GENRE_ITEMS = [("AUTO", "Auto", "Let the model choose from the music")] + [
    (name, name, f"Dance in the {name} style") for name in genres.GENRES
]


class MACE_PG_settings(bpy.types.PropertyGroup):
    music_path: StringProperty(name="Music", subtype="FILE_PATH", description=f"Music to dance to: {audio_formats.AUDIO_FORMATS_TEXT}")
    genre: EnumProperty(name="Genre", items=GENRE_ITEMS, default="AUTO")
    seed: IntProperty(name="Seed", default=0, min=0, description="Same music + seed = same dance")
    start_s: FloatProperty(name="Start", default=0.0, min=0.0, unit="TIME_ABSOLUTE", description="Where in the song to start")
    length_s: FloatProperty(name="Length", default=0.0, min=0.0, unit="TIME_ABSOLUTE",
                            description="Seconds of dance to make; 0 = to the end of the song")
    reference_image: StringProperty(name="Reference", subtype="FILE_PATH",
                                    description="Image of the character who will dance in the video")
    output_path: StringProperty(name="Output", subtype="FILE_PATH", default="//dance.mp4",
                                description="Where the rendered video is written (// = next to the .blend)")
    width: IntProperty(name="Width", default=0, min=0, max=4096, step=16,
                       description="Video width in pixels; 0 = the reference photo's own aspect")
    height: IntProperty(name="Height", default=0, min=0, max=4096, step=16,
                        description="Video height in pixels; 0 = the reference photo's own aspect")
    save_pose_video: BoolProperty(name="Save Pose Video", default=True,
                                  description="Also save the skeleton video the renderer followed, as <output>_pose.mp4")
    body: EnumProperty(name="Body", items=BODY_ITEMS, default="AUTO",
                       description="How the CPU renderer animates the reference (the GPU renderer has no such choice)")
    dancer: PointerProperty(name="Dancer", type=bpy.types.Object, poll=lambda self, obj: obj.type == "ARMATURE",
                            description="The SMPL dancer that Regenerate, Export, Render and Retarget work on (empty: "
                                        "the active object when it is one, or the scene's only one)")
    retarget_target: PointerProperty(name="Target", type=bpy.types.Object, poll=lambda self, obj: obj.type == "ARMATURE",
                                     description="Your character's armature, which receives the dance as a new action")


class MACE_PG_bone_pair(bpy.types.PropertyGroup):
    """One row of a target armature's bone map: which of its bones follows an SMPL joint."""

    joint: StringProperty(name="SMPL joint")
    bone: StringProperty(name="Bone", description="The bone that follows this SMPL joint (empty: none)")


class MACE_PG_status(bpy.types.PropertyGroup):
    busy: BoolProperty(default=False)
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(default="")
    error: StringProperty(default="")
    hint: StringProperty(default="")
    backend: StringProperty(default="not checked")
    origin: StringProperty(default="", description="The panel whose button started the running (or last) job")
    last_output: StringProperty(default="", subtype="FILE_PATH")


def settings(context) -> MACE_PG_settings:
    return context.scene.mace_dance


def status(context) -> MACE_PG_status:
    return context.window_manager.mace_dance_status


def update_status(fields: dict) -> None:
    """Write status fields into the window manager's panel status and redraw the sidebars.

    Takes no context: the window manager is looked up at each call (never kept), so updates arriving from a
    timer after another file was loaded reach the current one. Jobs use it as their status callback."""
    wm = bpy.context.window_manager
    target = wm.mace_dance_status
    for key, value in fields.items():
        setattr(target, key, value)
    line = status_line(target)
    for window in wm.windows:
        # Blender's status bar shows the running job wherever the sidebar is scrolled (cleared when it ends).
        workspace = getattr(window, "workspace", None)
        if workspace is not None:
            workspace.status_text_set(line if target.busy else None)
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
                for region in area.regions:  # buttons' enabled state too, not only when the mouse passes
                    region.tag_redraw()


def status_line(status) -> str:
    """One line for a status bar or a panel header: the running job's progress, else its error."""
    if status.busy:
        return f"Dance: {status.message or 'working'} ({status.progress:.0%})"
    if status.error:
        return f"Dance failed: {status.error}"
    return ""


def register_properties() -> None:
    bpy.types.Scene.mace_dance = PointerProperty(type=MACE_PG_settings)
    bpy.types.Object.mace_bone_map = CollectionProperty(type=MACE_PG_bone_pair)
    bpy.types.WindowManager.mace_dance_status = PointerProperty(type=MACE_PG_status)


def unregister_properties() -> None:
    del bpy.types.WindowManager.mace_dance_status
    del bpy.types.Object.mace_bone_map
    del bpy.types.Scene.mace_dance
