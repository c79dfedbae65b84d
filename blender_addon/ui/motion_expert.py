"""The backend box's Motion Expert part: which generator dances and why, and "Get the Motion Expert"."""

from __future__ import annotations

from .. import jobs, motion_expert_download
from ..operators import motion_expert as operators


def _field(info, name):
    return info.get(name) if isinstance(info, dict) else getattr(info, name, None)


def draw_motion_expert(layout) -> None:
    """Under the backend line: the dancing generator with its reason (from the last ``hello``), and, where
    the Motion Expert is not installed, the button that gets it (progress and Cancel while it runs)."""
    from .panel import wrapped_label

    info = jobs.SESSION.last_hello
    if info is not None:
        name = {"motion_expert": "Motion Expert", "choreographer": "choreographer"}.get(
            _field(info, "motion_generator"), _field(info, "motion_generator"))
        reason = _field(info, "motion_generator_reason")
        wrapped_label(layout, f"Dances with the {name}" + (f": {reason}" if reason else ""), icon="ARMATURE_DATA")
    download = operators.DOWNLOAD.poll() if operators.DOWNLOAD is not None else None
    if download is not None and download.running:
        row = layout.row(align=True)
        row.label(text=f"Motion Expert {download.fraction:.0%} of {motion_expert_download.format_size(download.size)}",
                  icon="IMPORT")
        row.operator("mace.cancel_motion_expert_download", text="", icon="CANCEL")
        return
    weights = _field(info, "weights") if info is not None else None
    installed = isinstance(weights, dict) and weights.get("motion_expert")
    if not installed and not (download is not None and download.finished):
        layout.operator("mace.get_motion_expert", text="Get the Motion Expert (about 0.3 GB)", icon="IMPORT")
