#!/usr/bin/env python3
"""Import/export speed of the Blender add-on, against per-key ``keyframe_insert`` in the same run.

    python benchmarks/blender_io.py            # or: blender -b -P benchmarks/blender_io.py
    python benchmarks/blender_io.py --quick    # 10 s and 1 min only

For 1 and 10 minutes of 30 fps motion it times
  * import: build the SMPL armature + write 99 F-curves in bulk (``keyframe_points.add`` + ``foreach_set``)
    + scene fps/range (``bpy_glue.importer.import_motion``);
  * export: F-curves back to SMPL poses/trans (``bpy_glue.exporter.export_motion``, method "fcurves"), and
    the "visual" method (frame by frame, for rigs with constraints) on the shortest motion;
  * retarget: the whole "Retarget Dance" onto Blender's human metarig (Rigify names, 159 bones) -- export
    of the SMPL rig, world-space transfer with foot locking, and the new action on the target
    (``bpy_glue.retarget.retarget_onto``);
  * baseline: the classic loop (set pose, ``pose_bone.keyframe_insert`` per bone and frame) measured on
    BASELINE_FRAMES frames and extrapolated linearly to the full length (labelled as such).
Goals: a 10-minute import in under 1 s; retargeting 10 minutes in under 2 s of CPU time (the process's own
CPU seconds, which other work on a busy machine does not inflate as it does the wall time; both are printed,
with the load average).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from blender_addon.bpy_glue import exporter, importer, retarget  # noqa: E402
from blender_addon.convert.retarget import auto_map  # noqa: E402
from shared.motion import Motion  # noqa: E402
from shared.rotations import axis_angle_to_quaternion  # noqa: E402
from shared.skeleton import JOINT_NAMES  # noqa: E402

FPS = 30
BASELINE_FRAMES = (120, 600)  # two sizes, to show how the per-frame cost scales


def clear_scene() -> None:
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    for collection in (bpy.data.armatures, bpy.data.actions, bpy.data.meshes):
        for block in list(collection):
            collection.remove(block)


def dance(num_frames: int, seed: int = 0) -> Motion:
    """Smooth random motion (sums of sines), like a dance in how curves vary."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None, None] / FPS
    freq, phase, amp = rng.uniform(0.2, 2.0, (3, 1, 24, 3)), rng.uniform(0, 6.3, (1, 24, 3)), rng.uniform(0.1, 0.8, (1, 24, 3))
    poses = (amp * np.sin(2 * np.pi * freq[0] * t + phase)).astype(np.float32)
    trans = np.stack([np.sin(t[:, 0, 0]), 0.05 * np.sin(4 * t[:, 0, 0]), np.cos(t[:, 0, 0])], -1).astype(np.float32)
    return Motion(poses=poses, trans=trans, fps=FPS)


def timed(fn, repeat: int = 3, cpu: bool = False):
    """Best wall seconds over ``repeat`` runs and the last result; with ``cpu`` also the best CPU seconds
    (``time.process_time``: this process alone, all its threads): ``(wall, cpu, result)``."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return (best, best_cpu, result) if cpu else (best, result)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def bulk_import(motion: Motion):
    clear_scene()
    return importer.import_motion(bpy.context, motion, name="bench")


def keyframe_insert_per_frame(motion: Motion, frames: int) -> float:
    """Seconds per motion frame for the per-key baseline (measured over ``frames`` frames)."""
    clear_scene()
    obj = importer.import_motion(bpy.context, motion.slice(0, 1), name="baseline").armature
    obj.animation_data.action = None
    quats = axis_angle_to_quaternion(motion.poses[:frames])
    bones = [obj.pose.bones[name] for name in JOINT_NAMES]
    start = time.perf_counter()
    for t in range(frames):
        for j, bone in enumerate(bones):
            bone.rotation_quaternion = quats[t, j]
            bone.keyframe_insert("rotation_quaternion", frame=t + 1)
        bones[0].location = motion.trans[t]
        bones[0].keyframe_insert("location", frame=t + 1)
    return (time.perf_counter() - start) / frames


def main() -> int:
    parser = argparse.ArgumentParser(description="Blender add-on import/export benchmark")
    parser.add_argument("--quick", action="store_true", help="10 s and 1 min instead of 1 and 10 min")
    args = parser.parse_args(argv)
    lengths = [("10 s", 10), ("1 min", 60)] if args.quick else [("1 min", 60), ("10 min", 600)]

    print(f"Blender {bpy.app.version_string}, background={bpy.app.background}, load average {load_average()}")
    for frames in BASELINE_FRAMES:
        per_frame = keyframe_insert_per_frame(dance(frames), frames)
        print(f"baseline keyframe_insert: {per_frame * 1e3:.2f} ms per frame (24 quaternions + root location), "
              f"measured on {frames} frames")
    header = f"{'motion':>8} {'frames':>7} {'import s':>9} {'export s':>9} {'keyframe_insert s*':>19} {'speed-up':>9}"
    print(header)
    for label, seconds in lengths:
        motion = dance(seconds * FPS)
        import_s, result = timed(lambda: bulk_import(motion), repeat=2 if seconds > 100 else 3)
        export_s, out = timed(lambda: exporter.export_motion(result.armature, bpy.context.scene, "fcurves"), repeat=2)
        baseline_s = per_frame * motion.num_frames
        assert out.num_frames == motion.num_frames
        print(f"{label:>8} {motion.num_frames:>7} {import_s:>9.3f} {export_s:>9.3f} {baseline_s:>19.1f} "
              f"{baseline_s / import_s:>8.0f}x")
    import addon_utils

    addon_utils.enable("rigify", default_set=True)  # with its preferences, or its register() fails
    retarget_cpu = 0.0
    for label, seconds in lengths:
        result = bulk_import(dance(seconds * FPS))
        bpy.ops.object.armature_human_metarig_add()
        target = bpy.context.active_object
        _, mapping = auto_map([bone.name for bone in target.data.bones])
        retarget_s, retarget_cpu, _ = timed(lambda: retarget.retarget_onto(bpy.context, result.armature, target,
                                                                           mapping), repeat=3, cpu=True)
        print(f"retarget {label} onto the human metarig ({len(mapping)} bones mapped): {retarget_cpu:.3f} s CPU, "
              f"{retarget_s:.3f} s wall at load {load_average()} (keyframe_insert would take "
              f"~{per_frame * seconds * FPS:.0f} s just to write the keys*)")
    motion = dance(lengths[0][1] * FPS)
    result = bulk_import(motion)
    visual_s, _ = timed(lambda: exporter.export_motion(result.armature, bpy.context.scene, "visual"), repeat=1)
    print(f"visual export (frame by frame, for constraints/NLA) of {lengths[0][0]}: {visual_s:.3f} s")
    print(f"* extrapolated linearly from the {BASELINE_FRAMES[-1]}-frame measurement; if the per-frame cost grows "
          "with curve length (compare the two baseline lines) the real baseline is slower still. "
          "speed-up = baseline / bulk import")
    goal = "met" if not args.quick and import_s < 1.0 else ("not met" if not args.quick else "not measured (--quick)")
    print(f"goal (10 min import < 1 s): {goal}")
    goal = "met" if not args.quick and retarget_cpu < 2.0 else ("not met" if not args.quick else "not measured (--quick)")
    print(f"goal (10 min retarget < 2 s CPU): {goal}")
    clear_scene()
    return 0


if __name__ == "__main__":
    sys.exit(main())
