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
    """Create a new action ``name`` holding ``curves`` for ``obj`` (a slot for it on 4.4+) and return it.

    The action is not assigned to ``obj`` (a take goes on the NLA, see ``takes.add_take``). Keys use LINEAR
    interpolation: one key per motion frame, so the curve passes exactly through the motion.
    """
    action = bpy.data.actions.new(name)
    action[PROP_FPS] = float(fps)
    action[PROP_FRAME_START] = int(frame_start)
    action[PROP_NUM_FRAMES] = int(num_frames)
    try:
        owner = compat.action_channels(action, compat.ensure_slot(action, obj), ensure=True)
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


def set_key_values(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Give ``fcurve`` the value ``values[i]`` at ``frames[i]``: an existing key there keeps its interpolation
    and handle shape (the handles move with it); elsewhere a key is inserted. Other keys are not touched."""
    points = fcurve.keyframe_points
    count = len(points)
    co = np.empty(2 * count, dtype=np.float32)
    points.foreach_get("co", co)
    key_frames = co[0::2]
    wanted = np.asarray(frames, dtype=np.float32)
    index = np.clip(np.searchsorted(key_frames, wanted), 0, max(count - 1, 0))
    exact = (key_frames[index] == wanted) if count else np.zeros(len(wanted), bool)
    if exact.any():
        left = np.empty(2 * count, dtype=np.float32)
        right = np.empty(2 * count, dtype=np.float32)
        points.foreach_get("handle_left", left)
        points.foreach_get("handle_right", right)
        rows = index[exact]
        delta = np.asarray(values, dtype=np.float32)[exact] - co[2 * rows + 1]
        for array in (co, left, right):
            array[2 * rows + 1] += delta
        co[2 * rows + 1] = np.asarray(values, dtype=np.float32)[exact]
        points.foreach_set("co", co)
        points.foreach_set("handle_left", left)
        points.foreach_set("handle_right", right)
    for frame, value in zip(wanted[~exact], np.asarray(values)[~exact]):
        points.insert(float(frame), float(value), options={"FAST"})
    fcurve.update()
