"""The classes the add-on registers, and the symmetric register/unregister."""

from __future__ import annotations

import bpy

from . import jobs, operators, preferences, properties, ui

CLASSES = (
    preferences.MACE_AddonPreferences,
    properties.MACE_PG_bone_pair,
    properties.MACE_PG_settings,
    properties.MACE_PG_status,
    *operators.CLASSES,
    *ui.CLASSES,
)


def _menu_import(self, context):
    self.layout.operator(operators.MACE_OT_import_motion.bl_idname, text="SMPL Dance Motion (.npz, .pkl)")


def _menu_export(self, context):
    self.layout.operator(operators.MACE_OT_export_motion.bl_idname, text="SMPL Dance Motion (.npz)")


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    properties.register_properties()
    bpy.types.TOPBAR_MT_file_import.append(_menu_import)
    bpy.types.TOPBAR_MT_file_export.append(_menu_export)


def unregister() -> None:
    jobs.SESSION.shutdown()  # a live timer would hang Blender's exit; a started backend must stop
    bpy.types.TOPBAR_MT_file_export.remove(_menu_export)
    bpy.types.TOPBAR_MT_file_import.remove(_menu_import)
    properties.unregister_properties()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
