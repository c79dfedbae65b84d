"""Operators of the Dance panel. Each catches ``shared.errors`` and reports them (never only the console)."""

from .backend import MACE_OT_backend_check, MACE_OT_backend_start, MACE_OT_backend_stop
from .files import MACE_OT_export_motion, MACE_OT_import_motion
from .generate import MACE_OT_cancel, MACE_OT_generate, MACE_OT_regenerate_selection
from .render import MACE_OT_render_reference

CLASSES = (
    MACE_OT_generate, MACE_OT_cancel, MACE_OT_regenerate_selection, MACE_OT_render_reference,
    MACE_OT_import_motion, MACE_OT_export_motion,
    MACE_OT_backend_check, MACE_OT_backend_start, MACE_OT_backend_stop,
)  # fmt: skip
