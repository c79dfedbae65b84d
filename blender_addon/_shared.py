"""The single door through which the add-on reaches the ``shared`` package.

In the built extension ``shared/`` is bundled as a sub-package of the add-on (``<addon>.shared``), because
Blender loads extensions as ``bl_ext.<repo>.<id>`` and nothing outside is importable; in a development
checkout it is the top-level ``shared`` package beside ``blender_addon/``. Modules load on first use
(``from ._shared import rotations``), so a missing wheel (msgpack, pyzmq) only breaks the feature that needs
it, with a clear error, instead of the whole add-on.
"""

from __future__ import annotations

import importlib
import importlib.util

MODULES = ("audio_formats", "axes", "body_mesh", "genres", "motion", "rotations", "rig_names", "skeleton", "smpl_model",
           "kinematics", "keep", "motion_io", "atomic", "errors", "protocol", "client", "sampling")


def _base_package() -> str:
    bundled = f"{__package__}.shared"
    try:
        if importlib.util.find_spec(bundled) is not None:
            return bundled
    except ImportError:
        pass
    return "shared"


BASE = _base_package()


def __getattr__(name: str):
    if name not in MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{BASE}.{name}")
    globals()[name] = module
    return module
