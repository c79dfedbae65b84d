"""The published dance datasets, as their authors lay them out, turned into training folders.

``prepare(kind, raw_dir, out_dir)`` writes ``out_dir/train`` and ``out_dir/test`` (the official splits), each
holding one ``<take>.npz`` motion (``shared.motion_io``: SMPL, Y-up, 30 fps) and its music ``<take>.<ext>``
(a hard link to the dataset's file when the disk allows, else a copy), plus ``genres.json``: what
``mace-dance train`` reads.

* **AIST++** (``aistpp``): ``motions/*.pkl`` (``smpl_poses``, ``smpl_trans``, ``smpl_scaling``; 60 fps) and
  ``wavs/<music id>.wav``, the music id being the fifth part of a take's name (``gBR_sBM_cAll_d04_mBR0_ch01``
  dances to ``mBR0``); the splits are the dataset's own ``splits/crossmodal_train.txt`` and
  ``crossmodal_test.txt``, without the takes of ``splits/ignore_list.txt`` (as EDGE trains). The
  ``.pkl`` files are read through ``shared.safe_pickle`` (no code runs).
* **FineDance** (``finedance``): ``motion/<id>.npy`` (T, 315): root translation then 52 joints' rotations
  in 6-D (SMPL-H order, pytorch3d's row convention; 30 fps, Y-up), ``music_wav/<id>.wav`` and
  ``label_json/<id>.json`` (``style2``: the genre); the split is the one FineDance's code lists (20 test
  songs; 9 takes ignored). The hands' joints are dropped (the Motion Expert is SMPL's 24 joints).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.progress import JobContext, ensure_context
from shared.atomic import atomic_write
from shared.errors import InvalidInputError
from shared.genres import genre_index
from shared.motion import Motion
from shared.motion_io import load_motion, save_motion
from shared.rotations import rotation_6d_to_axis_angle

logger = logging.getLogger(__name__)

DATASETS = ("aistpp", "finedance")
FPS = 30.0

#: FineDance's official split (its code's ``get_train_test_list``): test songs and takes left out.
FINEDANCE_TEST = ("063", "132", "143", "036", "098", "198", "130", "012", "211", "193", "179", "065", "137", "161",
                  "092", "120", "037", "109", "204", "144")
FINEDANCE_IGNORED = ("116", "117", "118", "119", "120", "121", "122", "123", "202")
FINEDANCE_CHANNELS = 3 + 52 * 6

#: AIST++'s ten genres (the first part of a take's name) -> the nearest of the Motion Expert's genres.
AISTPP_GENRES = {"gBR": "Breaking", "gPO": "Popping", "gLO": "Locking", "gMH": "Hiphop", "gLH": "Hiphop",
                 "gHO": "Urban", "gWA": "Urban", "gKR": "Urban", "gJS": "Jazz", "gJB": "Jazz"}


@dataclass(frozen=True)
class Take:
    """One dance of a dataset: its name, split, how to read its motion, its music file and genre."""

    name: str
    split: str  # "train" or "test"
    motion: Path
    music: Path
    genre: str | None


def aistpp_takes(raw: Path) -> list[Take]:
    splits = raw / "splits"
    lists = {}
    for split, file in (("train", "crossmodal_train.txt"), ("test", "crossmodal_test.txt")):
        if not (splits / file).is_file():
            raise InvalidInputError(f"AIST++ split list not found: {splits / file}",
                                    "it comes with the AIST++ annotations (aist_plusplus_final/splits/); give the "
                                    "folder that holds motions/, wavs/ and splits/")
        lists[split] = _names(splits / file)
    ignored = set(_names(splits / "ignore_list.txt")) if (splits / "ignore_list.txt").is_file() else set()
    takes = []
    for split, names in lists.items():
        for name in names:
            if name in ignored:
                continue
            parts = name.split("_")
            if len(parts) < 5:
                raise InvalidInputError(f"{name!r} in the {split} list is not an AIST++ take name",
                                        "names look like gBR_sBM_cAll_d04_mBR0_ch01")
            takes.append(Take(name, split, raw / "motions" / f"{name}.pkl", raw / "wavs" / f"{parts[4]}.wav",
                              AISTPP_GENRES.get(parts[0])))
    return takes


def finedance_takes(raw: Path) -> list[Take]:
    motions = sorted((raw / "motion").glob("*.npy"))
    if not motions:
        raise InvalidInputError(f"no FineDance motions in {raw / 'motion'}",
                                "give the FineDance folder that holds motion/*.npy and music_wav/*.wav")
    takes = []
    for path in motions:
        if path.stem[:3] in FINEDANCE_IGNORED:
            continue
        label = raw / "label_json" / f"{path.stem}.json"
        genre = json.loads(label.read_text(encoding="utf-8")).get("style2") if label.is_file() else None
        takes.append(Take(path.stem, "test" if path.stem[:3] in FINEDANCE_TEST else "train", path,
                          raw / "music_wav" / f"{path.stem}.wav", genre))
    return takes


def read_finedance_motion(path: Path) -> Motion:
    """A FineDance ``(T, 315)`` motion as an SMPL ``Motion`` (body joints; hands left at rest)."""
    data = np.load(path, allow_pickle=False)
    if data.ndim != 2 or data.shape[1] != FINEDANCE_CHANNELS:
        raise InvalidInputError(f"{path}: a FineDance motion is (frames, {FINEDANCE_CHANNELS}), got {data.shape}",
                                "use the motion/*.npy files of the FineDance release")
    rotations = data[:, 3:].reshape(len(data), 52, 6)
    poses = np.zeros((len(data), 24, 3))
    poses[:, :22] = rotation_6d_to_axis_angle(rotations[:, :22])
    return Motion(poses=poses, trans=data[:, :3], fps=FPS, metadata={"source_format": "finedance"})


def prepare(kind: str, raw_dir: str | Path, out_dir: str | Path, ctx: JobContext | None = None) -> dict[str, int]:
    """Write the training folders of dataset ``kind`` (one of ``DATASETS``) found at ``raw_dir``; returns
    how many takes each split got. Takes already written are kept (a stopped run resumes)."""
    ctx = ensure_context(ctx)
    raw, out = Path(raw_dir), Path(out_dir)
    if kind not in DATASETS:
        raise InvalidInputError(f"unknown dataset {kind!r}", f"choose one of {', '.join(DATASETS)}")
    if not raw.is_dir():
        raise InvalidInputError(f"dataset folder not found: {raw}")
    takes = aistpp_takes(raw) if kind == "aistpp" else finedance_takes(raw)
    missing = [str(path) for take in takes for path in (take.motion, take.music) if not path.is_file()]
    if missing:
        raise InvalidInputError(f"{len(missing)} file(s) of the {kind} split lists are missing, e.g. {missing[:3]}",
                                f"give the complete {kind} folder (or remove those takes from its lists)")
    genres: dict[str, dict[str, str]] = {"train": {}, "test": {}}
    for index, take in enumerate(takes):
        ctx.check_cancelled()
        ctx.report(index / len(takes), f"{take.split}: {take.name}")
        folder = out / take.split
        target = folder / f"{take.name}.npz"
        if not target.is_file():
            motion = read_finedance_motion(take.motion) if kind == "finedance" else load_motion(take.motion)
            save_motion(motion if abs(motion.fps - FPS) < 1e-6 else motion.resample(FPS), target)  # atomic
        _link_or_copy(take.music, folder / f"{take.name}{take.music.suffix.lower()}")
        if take.genre is not None:
            genre_index(take.genre)  # the one genre check: a name outside GENRES is an error naming the fix
            genres[take.split][take.name] = take.genre
    counts = {}
    for split, names in genres.items():
        counts[split] = sum(take.split == split for take in takes)
        if counts[split]:
            with atomic_write(out / split / "genres.json", "w") as handle:
                json.dump(names, handle, indent=1, sort_keys=True)
    ctx.report(1.0, f"{counts['train']} train and {counts['test']} test takes")
    return counts


def _names(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _link_or_copy(source: Path, target: Path) -> None:
    if target.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:  # another disk, or no hard links there
        shutil.copyfile(source, partial)
    os.replace(partial, target)
