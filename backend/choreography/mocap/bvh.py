"""A small BVH (Biovision Hierarchy) reader: hierarchy, channels and world joint positions, vectorised.

Why our own: the maintained PyPI readers (``bvhio``) build a Python object per joint and frame through PyGLM,
which is slow for long takes and adds two dependencies, and the simple parsers (``bvh``, 2017) are no longer
maintained and compute no positions. BVH itself is small: a joint tree with offsets and Euler channel
orders, then one row of channel values per frame.

Conventions handled: any Euler channel order per joint (rotations compose in the order listed, i.e.
``Zrotation Yrotation Xrotation`` = Rz·Ry·Rx, intrinsic), position channels on any joint (not only the root),
``End Site`` leaves, and CRLF/whitespace variations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from shared.errors import InvalidInputError

_AXES = {"X": 0, "Y": 1, "Z": 2}
_CHANNEL_NAMES = {f"{axis}{kind}" for axis in "XYZ" for kind in ("position", "rotation")}
#: What a take may hold: a joint has at most the 6 channels there are, a take at most a million frames, and its
#: frame rate lies within [1, 1000] fps (the wire's bounds), so nothing a file says makes the reader loop or
#: allocate beyond the file's own size.
MAX_CHANNELS_PER_JOINT = 6
MAX_FRAMES = 1_000_000
MIN_FPS, MAX_FPS = 1.0, 1000.0


@dataclass
class BvhMotion:
    """A parsed BVH take.

    Attributes:
        names: (J,) joint names (End Sites are named ``<parent>_end``).
        parents: (J,) parent index, -1 for the root; parents precede children.
        offsets: (J, 3) rest offsets from the parent, file units.
        positions: (T, J, 3) world joint positions, file units and axes.
        fps: frames per second (1 / Frame Time).
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    positions: np.ndarray
    fps: float

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


def read_bvh(path: str | Path) -> BvhMotion:
    """Read a BVH file into world joint positions.

    Raises:
        InvalidInputError: the file is not a readable BVH (names the line and what was expected).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    tokens = text.split()
    hint = "export the take as BVH (HIERARCHY … MOTION, Frames, Frame Time) from your mocap or DCC tool"
    if not tokens or tokens[0] != "HIERARCHY":
        raise InvalidInputError(f"{path.name} is not a BVH file (it does not start with HIERARCHY)", hint=hint)

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    i = 1
    try:
        while tokens[i] != "MOTION":
            word = tokens[i]
            if word in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                i += 2
            elif word == "End":  # "End Site"
                names.append(f"{names[stack[-1]]}_end")
                parents.append(stack[-1])
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                i += 2
            elif word == "{":
                stack.append(len(names) - 1)
                i += 1
            elif word == "}":
                stack.pop()
                i += 1
            elif word == "OFFSET":
                offsets[stack[-1]] = [float(v) for v in tokens[i + 1 : i + 4]]
                i += 4
            elif word == "CHANNELS":
                count = int(tokens[i + 1])
                listed = tokens[i + 2 : i + 2 + count]
                if not 0 <= count <= MAX_CHANNELS_PER_JOINT or len(listed) != count or not set(listed) <= _CHANNEL_NAMES:
                    raise InvalidInputError(f"{path.name}: CHANNELS {tokens[i + 1]} {' '.join(listed)[:80]} is not a "
                                            f"count of 0 to {MAX_CHANNELS_PER_JOINT} channels named like Xrotation",
                                            hint=hint)
                channels[stack[-1]] = listed
                i += 2 + count
            else:
                raise InvalidInputError(f"{path.name}: unexpected {word!r} in the hierarchy", hint=hint)
        frames = int(tokens[tokens.index("Frames:", i) + 1])
        frame_time = float(tokens[tokens.index("Time:", i) + 1])
        if not 1 <= frames <= MAX_FRAMES:
            raise InvalidInputError(f"{path.name}: Frames: {frames} is not within [1, {MAX_FRAMES:,}]", hint=hint)
        if not 1.0 / MAX_FPS <= frame_time <= 1.0 / MIN_FPS:
            raise InvalidInputError(f"{path.name}: Frame Time: {frame_time:g} s is not a frame rate within "
                                    f"[{MIN_FPS:g}, {MAX_FPS:g}] fps", hint="e.g. Frame Time: 0.0333333 for 30 fps")
        start = tokens.index("Time:", i) + 2
        width = sum(len(c) for c in channels)
        values = np.asarray(tokens[start : start + frames * width], dtype=np.float64)
    except InvalidInputError:
        raise
    except (IndexError, ValueError) as exc:
        raise InvalidInputError(f"{path.name}: malformed BVH ({exc})", hint=hint) from exc
    if not names or frames < 1 or values.size != frames * width or not frame_time > 0:
        raise InvalidInputError(
            f"{path.name}: expected {frames} frames of {width} channels, found {values.size} values", hint=hint
        )
    data = values.reshape(frames, width)
    return BvhMotion(
        names=names,
        parents=np.asarray(parents, dtype=np.int64),
        offsets=np.asarray(offsets, dtype=np.float64),
        positions=_world_positions(np.asarray(parents), np.asarray(offsets, dtype=np.float64), channels, data),
        fps=1.0 / frame_time,
    )


def _world_positions(parents: np.ndarray, offsets: np.ndarray, channels: list[list[str]], data: np.ndarray):
    frames = len(data)
    world_rot = np.empty((frames, len(parents), 3, 3))
    positions = np.empty((frames, len(parents), 3))
    column = 0
    for j, parent in enumerate(parents):
        local_t = np.broadcast_to(offsets[j], (frames, 3)).copy()
        order, angles = "", []
        for name in channels[j]:
            axis, kind = name[0].upper(), name[1:].lower()
            if kind == "position":
                local_t[:, _AXES[axis]] = offsets[j, _AXES[axis]] + data[:, column]
            elif kind == "rotation":
                order += axis
                angles.append(data[:, column])
            column += 1
        local_r = (
            Rotation.from_euler(order, np.stack(angles, axis=1), degrees=True).as_matrix()
            if order
            else np.broadcast_to(np.eye(3), (frames, 3, 3))
        )
        if parent < 0:
            world_rot[:, j] = local_r
            positions[:, j] = local_t
        else:
            world_rot[:, j] = world_rot[:, parent] @ local_r
            positions[:, j] = positions[:, parent] + np.einsum("tij,tj->ti", world_rot[:, parent], local_t)
    return positions
