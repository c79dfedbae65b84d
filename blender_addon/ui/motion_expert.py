"""The backend box's Motion Expert part: which generator dances and why, and "Get Motion Expert"."""

from __future__ import annotations

from .. import jobs, motion_expert_download
from ..operators import motion_expert as operators


def draw_motion_expert(layout) -> None:
    """Under the backend line: the dancing generator with its reason (from the last ``hello``, a ``shared.protocol.Hello``), and, where
    the Motion Expert is not installed, the button that gets it (progress and Cancel while it runs)."""
    from .panel import wrapped_label

    info = jobs.SESSION.last_hello
    if info is not None:
        name = {"motion_expert": "Motion Expert", "choreographer": "choreographer"}.get(
            info.motion_generator, info.motion_generator)
        reason = info.motion_generator_reason
        wrapped_label(layout, f"Dances with the {name}" + (f": {reason}" if reason else ""), icon="ARMATURE_DATA")
    download = operators.DOWNLOAD.poll() if operators.DOWNLOAD is not None else None
    if download is not None and download.running:
        row = layout.row(align=True)
        row.label(text=f"Motion Expert {download.fraction:.0%} of {motion_expert_download.format_size(download.size)}",
                  icon="IMPORT")
        row.operator("mace.cancel_motion_expert_download", text="", icon="CANCEL")
        return
    installed = info is not None and bool(info.weights.get("motion_expert"))
    if not installed and not (download is not None and download.finished):
        wrapped_label(layout, "The Motion Expert's weights: about 0.3 GB")
        layout.operator("mace.get_motion_expert", icon="IMPORT")
