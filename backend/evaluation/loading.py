"""Motion sets for evaluation: read folders of motion files, bring them to the protocol rate, find their music.

Accepted files:

* ``.npz`` in our canonical format, AMASS-style ``.npz``, AIST++ ``.pkl`` and EDGE/MACE output ``.pkl``
  (all through ``shared.motion_io.load_motion``, then FK on the default skeleton);
* ``.npz`` holding raw joint positions: ``joints`` (T, 24, 3) metres, Y-up, and ``fps`` (e.g. the real
  mocap in ``../shared/data/motion``);
* ``.npy`` raw joint positions (T, 24, 3) or (T, 72), Y-up, at ``default_fps``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.audio_formats import is_music_file_name
from shared.errors import InvalidInputError, MotionFormatError
from shared.motion import Motion
from shared.skeleton import NUM_JOINTS, PELVIS

from .protocol import EvalProtocol

MOTION_SUFFIXES = (".npz", ".pkl", ".npy")
#: Fewer frames than this leave the windowed features and the beat detector meaningless.
MIN_FRAMES = 8
#: Metadata keys a motion may use to name its music (first hit wins).
MUSIC_METADATA_KEYS = ("music", "music_name", "audio", "audio_path", "song")


@dataclass
class MotionSample:
    """One motion to evaluate.

    Attributes:
        name: file stem (or a caller-chosen label).
        fps: native frame rate.
        joints: (T, 24, 3) float64 joint positions, metres, Y-up, at ``fps`` (set for raw-joint inputs).
        motion: the SMPL motion when the input had rotations (joints then come from FK).
        music_hint: a music name from the motion's metadata, if any.
        music_offset_s: where frame 0 sits in the music, seconds (metadata ``start_s``; 0 otherwise).
        path: source file, if any.
    """

    name: str
    fps: float
    joints: np.ndarray | None = None
    motion: Motion | None = None
    music_hint: str | None = None
    music_offset_s: float = 0.0
    path: Path | None = None

    @classmethod
    def from_motion(cls, motion: Motion, name: str, path: Path | None = None) -> "MotionSample":
        meta = motion.metadata or {}
        hint = next((str(meta[k]) for k in MUSIC_METADATA_KEYS if meta.get(k)), None)
        try:
            offset = float(meta.get("start_s", 0.0) or 0.0)
        except (TypeError, ValueError):
            offset = 0.0
        return cls(name=name, fps=float(motion.fps), motion=motion, music_hint=hint, music_offset_s=offset, path=path)

    @classmethod
    def from_joints(cls, joints: np.ndarray, fps: float, name: str, path: Path | None = None) -> "MotionSample":
        return cls(name=name, fps=float(fps), joints=check_joints(joints, name), path=path)

    def joints_at(self, protocol: EvalProtocol) -> np.ndarray:
        """(T', 24, 3) float64 positions at ``protocol.fps``, cut to ``protocol.max_frames``."""
        if self.motion is not None:
            motion = self.motion if abs(self.motion.fps - protocol.fps) < 1e-9 else self.motion.resample(protocol.fps)
            joints = np.asarray(motion.joint_positions(), dtype=np.float64)
        else:
            joints = resample_joints(self.joints, self.fps, protocol.fps)
        if protocol.max_frames:
            joints = joints[: protocol.max_frames]
        if len(joints) < MIN_FRAMES:
            raise InvalidInputError(
                f"motion {self.name!r} has {len(joints)} frames at {protocol.fps:g} fps, fewer than {MIN_FRAMES}",
                hint="evaluate motions of at least a third of a second",
            )
        return joints


def check_joints(joints, name: str) -> np.ndarray:
    """Validate a raw joint array: (T, 24, 3) or (T, 72), finite. Returns (T, 24, 3) float64."""
    array = np.asarray(joints, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == NUM_JOINTS * 3:
        array = array.reshape(len(array), NUM_JOINTS, 3)
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 3):
        raise MotionFormatError(
            "joints", f"{name}: expected (T, {NUM_JOINTS}, 3) joint positions, got {array.shape}",
            hint="give SMPL-ordered joint positions in metres, Y-up",
        )
    if not np.isfinite(array).all():
        raise MotionFormatError("joints", f"{name}: contains NaN or Inf", hint="clean the motion before evaluating it")
    return array


def resample_joints(joints: np.ndarray, fps: float, target_fps: float) -> np.ndarray:
    """Linear resampling of (T, J, 3) positions from ``fps`` to ``target_fps`` over the same time span."""
    if abs(fps - target_fps) < 1e-9:
        return np.asarray(joints, dtype=np.float64)
    duration = (len(joints) - 1) / fps
    times = np.arange(int(np.floor(duration * target_fps + 1e-9)) + 1) / target_fps
    source = np.arange(len(joints)) / fps
    flat = np.asarray(joints, dtype=np.float64).reshape(len(joints), -1)
    out = np.stack([np.interp(times, source, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape(len(times), *joints.shape[1:])


def zero_start(joints: np.ndarray) -> np.ndarray:
    """Subtract the frame-0 root position from every joint of every frame (Bailando's "zero start")."""
    return joints - joints[:1, PELVIS : PELVIS + 1]


def load_sample(path: str | Path, default_fps: float = 30.0) -> MotionSample:
    """Read one motion file (see the module docstring for the formats)."""
    path = Path(path)
    name = path.stem
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise InvalidInputError(f"cannot read {path} ({exc})", hint="give a numeric .npy array") from exc
        return MotionSample.from_joints(array, default_fps, name, path)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                if "joints" in data.files and "poses" not in data.files:
                    fps = float(data["fps"]) if "fps" in data.files else default_fps
                    return MotionSample.from_joints(data["joints"], fps, name, path)
        except MotionFormatError:
            raise
        except Exception as exc:
            raise InvalidInputError(f"cannot read {path} ({exc})", hint="give a motion .npz file") from exc
    from shared.motion_io import load_motion

    return MotionSample.from_motion(load_motion(path), name, path)


def load_folder(folder: str | Path, default_fps: float = 30.0) -> list[MotionSample]:
    """Every motion file directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"{folder} is not a folder", hint="pass a folder of .npz/.pkl/.npy motion files")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MOTION_SUFFIXES)
    if not files:
        raise InvalidInputError(
            f"no motion files in {folder}", hint=f"the folder should hold files ending in {', '.join(MOTION_SUFFIXES)}"
        )
    return [load_sample(p, default_fps) for p in files]


def find_music(sample: MotionSample, music_dir: str | Path) -> Path | None:
    """The music file of a motion: the metadata's music name, else the same stem, else the longest music
    stem that starts the motion's name followed by ``_``, ``-``, ``.`` or a space (``song_seed3`` → ``song``)."""
    music_dir = Path(music_dir)
    tracks = {p.stem: p for p in sorted(music_dir.iterdir()) if p.is_file() and is_music_file_name(p.name)}
    if sample.music_hint:
        hinted = Path(sample.music_hint).stem
        if hinted in tracks:
            return tracks[hinted]
    if sample.name in tracks:
        return tracks[sample.name]
    prefixes = [stem for stem in tracks if re.match(re.escape(stem) + r"[_\-. ]", sample.name)]
    return tracks[max(prefixes, key=len)] if prefixes else None
