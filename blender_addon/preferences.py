"""Add-on preferences: where the backend is, how long to wait, and how to start one locally."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ._shared import sampling
from .jobs import ConnectionSettings

#: ``shared.protocol.DEFAULT_ADDRESS`` (a test keeps them equal). Written out so the add-on registers even
#: where msgpack is missing (legacy install without the bundled wheels); only the backend features need it.
DEFAULT_ADDRESS = "tcp://127.0.0.1:7557"
#: The Motion Expert's samplers as menu items, from their one home (``shared.sampling``: pure Python).
SAMPLER_ITEMS = [(name, sampling.SAMPLER_LABELS[name], sampling.SAMPLER_HELP[name]) for name in sampling.SAMPLERS]


class MACE_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    address: StringProperty(
        name="Backend address", default=DEFAULT_ADDRESS,
        description="ZeroMQ address of the MACE-Dance backend (mace-dance serve --address …)")
    server_public_key: StringProperty(
        name="Server public key",
        description="CURVE public key of a remote backend (from `mace-dance keys`); empty for a local one")
    client_secret_key_file: StringProperty(
        name="Client secret key file", subtype="FILE_PATH",
        description="This client's CURVE secret key file, for a remote backend that checks clients")
    timeout_s: FloatProperty(
        name="Connect timeout", default=3.0, min=0.2, max=120.0, unit="TIME_ABSOLUTE",
        description="How long one request waits for the backend to answer")
    job_timeout_s: FloatProperty(
        name="Job timeout", default=3600.0, min=10.0, max=86400.0, unit="TIME_ABSOLUTE",
        description="Longest a generation or render may take before it is abandoned")
    start_local: BoolProperty(
        name="Start a local backend", default=True,
        description="When no backend answers on a local address, start `mace-dance serve` (stopped when Blender exits)")
    startup_timeout_s: FloatProperty(
        name="Startup timeout", default=90.0, min=5.0, max=1800.0, unit="TIME_ABSOLUTE",
        description="How long a freshly started local backend may take to answer")
    backend_python: StringProperty(
        name="Backend Python", subtype="FILE_PATH",
        description="Python interpreter with MACE-Dance Studio installed (runs `python -m backend.cli serve`)")
    backend_command: StringProperty(
        name="Backend command",
        description="Full command that starts the backend (overrides Backend Python), e.g. `mace-dance serve`")

    # The backend's Wan-Animate settings (backend.appearance.wan.WanAnimateOptions), passed to a local
    # backend as `mace-dance serve` flags when the add-on starts it.
    wan_offload: EnumProperty(
        name="Wan offload", default="none",
        items=[("none", "None", "whole model on the GPU (>= 80 GB)"),
               ("model", "Model", "components move to the GPU in turn (~40 GB)"),
               ("sequential", "Sequential", "layer by layer: smallest GPU memory, slowest")],
        description="CPU offload of Wan-Animate in a backend started here (serve --offload)")
    wan_segment_frames: IntProperty(
        name="Wan segment frames", default=77, min=13, max=121,
        description="Frames per Wan-Animate segment, 4n+1 (serve --segment-frames; fewer saves GPU memory)")

    # The Motion Expert's sampler for dances made from here (shared.sampling.SamplerChoice, per request).
    motion_sampler: EnumProperty(
        name="Motion Expert sampler", default=sampling.DEFAULT_SAMPLER, items=SAMPLER_ITEMS,
        description="How the Motion Expert denoises (the choreographer has no sampler)")
    motion_steps: IntProperty(
        name="Steps", default=0, min=0, max=1000,
        description="Denoising steps of the Motion Expert (0 = the sampler's default)")

    smpl_model_path: StringProperty(
        name="SMPL model (optional)", subtype="FILE_PATH",
        description="SMPL_NEUTRAL.pkl/.npz (licensed, from smpl.is.tue.mpg.de): new armatures get the rest "
        "skeleton of the motion's body shape (betas) instead of the built-in average one")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "address")
        col = layout.column(heading="Remote backend (CURVE)")
        col.prop(self, "server_public_key")
        col.prop(self, "client_secret_key_file")
        row = layout.row()
        row.prop(self, "timeout_s")
        row.prop(self, "job_timeout_s")
        box = layout.box()
        box.prop(self, "start_local")
        sub = box.column()
        sub.active = self.start_local
        sub.prop(self, "startup_timeout_s")
        sub.prop(self, "backend_python")
        sub.prop(self, "backend_command")
        sub.prop(self, "wan_offload")
        sub.prop(self, "wan_segment_frames")
        row = layout.row()
        row.prop(self, "motion_sampler")
        row.prop(self, "motion_steps")
        layout.prop(self, "smpl_model_path")


def rest_body(context, betas) -> dict:
    """Keyword arguments for ``importer.import_motion`` describing a new armature's body: with an SMPL model
    in the preferences, ``skeleton`` (its joints for ``betas``) and ``smpl_model`` (its arrays, for the mesh;
    only when the file has faces and skin weights); else nothing (the built-in skeleton and low-poly body)."""
    from ._shared import skeleton, smpl_model

    prefs = get(context)
    if prefs is None or not prefs.smpl_model_path:
        return {}
    model = smpl_model.load_smpl_model_arrays(bpy.path.abspath(prefs.smpl_model_path))
    rest = skeleton.Skeleton.from_joint_positions(skeleton.regress_rest_joints(model, betas))
    has_mesh = "f" in model and "weights" in model
    return {"skeleton": rest, "smpl_model": model if has_mesh else None}


def get(context) -> "MACE_AddonPreferences | None":
    """The add-on's preferences, or None when it was registered without being enabled (scripts, tests)."""
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def sampler_choice(context):
    """The Motion Expert's sampler and steps for a request (``shared.sampling.SamplerChoice``)."""
    prefs = get(context)
    if prefs is None:
        return sampling.SamplerChoice()
    return sampling.SamplerChoice(prefs.motion_sampler, int(prefs.motion_steps) or None)


def connection_settings(context) -> ConnectionSettings:
    """Preferences as plain settings (defaults when the add-on is registered by a script)."""
    prefs = get(context)
    if prefs is None:
        return ConnectionSettings(address=DEFAULT_ADDRESS)
    return ConnectionSettings(
        address=prefs.address, timeout_s=prefs.timeout_s, job_timeout_s=prefs.job_timeout_s,
        server_public_key=prefs.server_public_key, client_secret_key_file=bpy.path.abspath(prefs.client_secret_key_file),
        start_local=prefs.start_local, startup_timeout_s=prefs.startup_timeout_s,
        backend_command=prefs.backend_command, backend_python=bpy.path.abspath(prefs.backend_python),
        wan_offload=prefs.wan_offload, wan_segment_frames=prefs.wan_segment_frames,
    )
