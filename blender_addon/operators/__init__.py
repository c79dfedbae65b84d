"""Operators of the Dance panel. Each catches ``shared.errors`` and reports them (never only the console)."""

from .backend import MACE_OT_backend_check, MACE_OT_backend_start, MACE_OT_backend_stop
from .files import MACE_OT_export_motion, MACE_OT_import_motion
from .generate import MACE_OT_cancel, MACE_OT_generate, MACE_OT_regenerate_selection
from .motion_expert import MACE_OT_cancel_motion_expert_download, MACE_OT_get_motion_expert
from .render import MACE_OT_render_reference
from .retarget import (MACE_OT_auto_map, MACE_OT_load_bone_map, MACE_OT_retarget, MACE_OT_save_bone_map,
                       MACE_OT_use_smpl_dancer, MACE_OT_use_take)

CLASSES = (
    MACE_OT_generate, MACE_OT_cancel, MACE_OT_regenerate_selection, MACE_OT_render_reference,
    MACE_OT_import_motion, MACE_OT_export_motion,
    MACE_OT_backend_check, MACE_OT_backend_start, MACE_OT_backend_stop,
    MACE_OT_get_motion_expert, MACE_OT_cancel_motion_expert_download,
    MACE_OT_use_smpl_dancer, MACE_OT_use_take, MACE_OT_auto_map, MACE_OT_retarget, MACE_OT_save_bone_map, MACE_OT_load_bone_map,
)  # fmt: skip
