"""MACE-Dance Studio for Blender: music in, an editable SMPL dance armature out, rendered with a reference.

Registration only; the classes live in ``registry.py``, which is imported on ``register()`` so that the
pure-numpy ``convert`` package stays importable (and testable) without Blender.
"""

bl_info = {  # legacy (pre-4.2) install; Blender 4.2+ reads blender_manifest.toml instead
    "name": "MACE-Dance Studio",
    "author": "MACE-Dance Studio contributors",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "3D View > Sidebar > Dance",
    "description": "Generate dance motion from music, edit it as an SMPL armature, render it with a reference image",
    "category": "Animation",
}


def register():
    import os

    if not __package__.startswith("bl_ext."):  # a legacy install: Blender did not install the wheels
        from . import _wheels

        _wheels.ensure_wheels(os.path.dirname(__file__))
    from . import registry

    registry.register()


def unregister():
    from . import registry

    registry.unregister()
