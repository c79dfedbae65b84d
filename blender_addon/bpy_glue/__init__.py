"""Everything that writes or reads Blender data for the add-on (bpy lives here, in compat.py, operators/
and ui/ only). The numbers come from ``blender_addon.convert``; these modules only move them in and out
of Blender in bulk."""
