"""The user's own dance motion capture, read into SMPL motions for the motion-graph choreographer.

Accepted files in a folder (searched recursively): ``.bvh`` (CMU, LAFAN-style, Mixamo and Vicon-style
skeletons, retargeted to SMPL by joint directions), SMPL ``.npz`` (ours or AMASS), AIST++ / FineDance /
EDGE ``.pkl`` (through ``shared.safe_pickle``, never plain pickle) and ``.npz`` files of SMPL-ordered joint
positions (``joints`` (T, 24, 3) metres Y-up and ``fps``, as in ``../shared/data/motion``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.errors import InvalidInputError, MaceError, NotFoundError
from shared.motion import Motion
from shared.motion_io import load_motion, read_npz
from shared.skeleton import LEFT_FOOT, RIGHT_FOOT

from .bvh import read_bvh
from .retarget import bvh_to_motion, motion_from_joints

logger = logging.getLogger(__name__)

MOCAP_SUFFIXES = (".bvh", ".npz", ".pkl")
#: Clips shorter than this (seconds) hold too few beats to cut segments from.
MIN_CLIP_S = 1.0


@dataclass
class Clip:
    """One take of the library: its name and the SMPL motion (Y-up, metres, lowest toe on the floor)."""

    name: str
    motion: Motion


def load_clip(path: str | Path, fps: float = 30.0) -> Motion:
    """One mocap file as a Y-up SMPL :class:`Motion` at ``fps``, its lowest toe on y = 0."""
    path = Path(path)
    if path.suffix.lower() == ".bvh":
        return bvh_to_motion(read_bvh(path), fps=fps, name=path.name)
    if path.suffix.lower() == ".npz":
        data = read_npz(path)  # inflation counted: a zip bomb stops at the budget
        if "joints" in data and "poses" not in data:
            if "fps" not in data:
                raise InvalidInputError(f"{path.name}: joint positions without 'fps'", hint="add the frame rate")
            return motion_from_joints(data["joints"], float(data["fps"]), fps, {"source_file": path.name})
    motion = load_motion(path)
    if abs(motion.fps - fps) > 1e-6:
        motion = motion.resample(fps)
    joints = motion.joint_positions()
    trans = motion.trans.copy()
    trans[:, 1] -= np.percentile(joints[:, [LEFT_FOOT, RIGHT_FOOT], 1], 2)
    return Motion(poses=motion.poses, trans=trans, fps=motion.fps, metadata={"source_file": path.name})


def load_library(folder: str | Path, fps: float = 30.0) -> list[Clip]:
    """Every readable mocap take under ``folder``.

    Unreadable files are skipped with a warning naming the file and the reason; a folder with no usable
    take raises an error that lists them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFoundError(f"mocap folder not found: {folder}")
    clips, problems = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in MOCAP_SUFFIXES and p.is_file()):
        try:
            motion = load_clip(path, fps)
        except MaceError as exc:  # a foreign or broken file: skip it, say why
            problems.append(f"{path.name}: {exc.message}")
            logger.warning("skipping %s: %s", path, exc)
            continue
        except (MemoryError, ValueError, ArithmeticError) as exc:  # arrays of a shape or size nothing expects
            problems.append(f"{path.name}: unreadable ({type(exc).__name__})")
            logger.warning("skipping %s: %s: %s", path, type(exc).__name__, exc)
            continue
        if motion.duration < MIN_CLIP_S:
            problems.append(f"{path.name}: shorter than {MIN_CLIP_S:g} s")
            continue
        clips.append(Clip(str(path.relative_to(folder)), motion))
    if not clips:
        found = "; ".join(problems) if problems else f"no {', '.join(MOCAP_SUFFIXES)} files"
        raise InvalidInputError(
            f"no usable dance takes in {folder} ({found})",
            hint="put BVH, AMASS/our .npz or AIST++/FineDance .pkl dance takes of at least a second there",
        )
    return clips


__all__ = ["MOCAP_SUFFIXES", "Clip", "load_clip", "load_library"]
