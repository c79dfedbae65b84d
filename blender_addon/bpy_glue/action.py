"""Write keyframe arrays into a new action in bulk (``keyframe_points.add`` + ``foreach_set``)."""

from __future__ import annotations

import bpy
import numpy as np

from .. import compat
from ..convert.smpl_to_armature import FCurveKeys

#: Custom properties on an imported action: how to sample it back to SMPL frames.
PROP_FPS = "mace_fps"
PROP_FRAME_START = "mace_frame_start"
PROP_NUM_FRAMES = "mace_num_frames"


def write_action(obj: bpy.types.Object, name: str, curves: list[FCurveKeys], *, fps: float,
                 frame_start: int, num_frames: int) -> bpy.types.Action:
    """Create a new action ``name`` holding ``curves``, make it ``obj``'s active action and return it.

    The previously active action is kept (fake user) so nothing the animator made is lost. Keys use
    LINEAR interpolation: one key per motion frame, so the curve passes exactly through the motion.
    """
    action = bpy.data.actions.new(name)
    action[PROP_FPS] = float(fps)
    action[PROP_FRAME_START] = int(frame_start)
    action[PROP_NUM_FRAMES] = int(num_frames)
    try:
        anim = obj.animation_data or obj.animation_data_create()
        if anim.action is not None:
            anim.action.use_fake_user = True
        compat.assign_action(obj, action)
        owner = compat.channel_owner(obj, action, ensure=True)
        linear = compat.enum_value(bpy.types.Keyframe, "interpolation", "LINEAR")
        groups: dict[str, bpy.types.ActionGroup] = {}
        for curve in curves:
            group = groups.get(curve.group) or groups.setdefault(curve.group, owner.groups.new(curve.group))
            fcurve = compat.new_fcurve(owner, curve.data_path, curve.index, group)
            count = len(curve.co) // 2
            fcurve.keyframe_points.add(count)
            fcurve.keyframe_points.foreach_set("co", curve.co)
            fcurve.keyframe_points.foreach_set("interpolation", np.full(count, linear, dtype=np.int32))
            fcurve.update()
    except Exception:
        bpy.data.actions.remove(action)
        raise
    return action
