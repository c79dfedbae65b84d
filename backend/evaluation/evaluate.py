"""Evaluate a generated motion set against a reference (ground-truth) set under one protocol."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from backend.progress import JobContext
from shared.atomic import atomic_write
from shared.errors import InvalidInputError

from .beat_align import beat_align_score, music_beat_times
from .distribution import constant_dimensions, diversity, frechet_distance, normalise_with_reference
from .foot import PFC_SCALE, foot_skating_ratio, physical_foot_contact
from .geometric import geometric_features
from .kinetic import kinetic_features
from .loading import MotionSample, find_music, load_folder, zero_start
from .protocol import EvalProtocol, get_protocol

#: (key, label, better) rows of the printed table, in order.
TABLE_ROWS = (
    ("fid_k", "FID_k", "↓"),
    ("fid_g", "FID_g", "↓"),
    ("div_k", "Div_k", "↑"),
    ("div_g", "Div_g", "↑"),
    ("bas", "BAS", "↑"),
    ("pfc", "PFC", "↓"),
    ("fsr", "FSR", "↓"),
)


@dataclass
class MotionScores:
    """Per-motion results (features stay out of the JSON; they are only inputs to set metrics)."""

    set: str
    name: str
    frames: int
    kinetic: np.ndarray
    geometric: np.ndarray
    pfc: float
    fsr_left: float
    fsr_right: float
    bas: float = float("nan")
    music: str | None = None

    def to_dict(self) -> dict:
        return {
            "set": self.set, "name": self.name, "frames": self.frames, "music": self.music,
            "bas": _finite_or_none(self.bas), "pfc": _finite_or_none(self.pfc * PFC_SCALE),
            "fsr_left": _finite_or_none(self.fsr_left), "fsr_right": _finite_or_none(self.fsr_right),
        }  # fmt: skip


@dataclass
class EvalReport:
    """Set metrics of a generated and a reference set, per-motion scores and notes on reliability."""

    protocol: EvalProtocol
    generated: dict
    reference: dict
    motions: list[MotionScores]
    notes: list[str] = field(default_factory=list)
    music_tracker: str | None = None

    def to_dict(self) -> dict:
        def clean(values: dict) -> dict:
            return {k: (_finite_or_none(v) if isinstance(v, float) else v) for k, v in values.items()}

        return {
            "protocol": {**asdict(self.protocol), "description": self.protocol.describe()},
            "music_tracker": self.music_tracker,
            "generated": clean(self.generated),
            "reference": clean(self.reference),
            "motions": [m.to_dict() for m in self.motions],
            "notes": list(self.notes),
        }

    def write_json(self, path: str | Path) -> None:
        with atomic_write(path, "w") as handle:
            json.dump(self.to_dict(), handle, indent=2, ensure_ascii=False)
            handle.write("\n")

    def format_table(self) -> str:
        lines = [
            "MACE-Dance motion evaluation",
            self.protocol.describe(),
            f"generated: {self.generated['count']} motions, {self.generated['frames']} frames; "
            f"reference: {self.reference['count']} motions, {self.reference['frames']} frames",
        ]
        if self.music_tracker:
            lines.append(f"music beats: {self.music_tracker}")
        lines.append(f"{'metric':<10}{'generated':>14}{'reference':>14}")
        for key, label, better in TABLE_ROWS:
            lines.append(
                f"{label + ' ' + better:<10}{_fmt(self.generated.get(key)):>14}{_fmt(self.reference.get(key)):>14}"
            )
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def _finite_or_none(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if abs(value) >= 1e7:
        return f"{value:.3e}"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def score_motion(
    sample: MotionSample,
    protocol: EvalProtocol,
    set_name: str,
    beats: np.ndarray | None = None,
    music: str | None = None,
) -> MotionScores:
    """Features, PFC, FSR and (given music beat times in seconds from the music start) BAS of one motion."""
    joints = sample.joints_at(protocol)
    feature_joints = zero_start(joints) if protocol.zero_start_root else joints
    left, right = foot_skating_ratio(joints, protocol)
    scores = MotionScores(
        set=set_name, name=sample.name, frames=len(joints),
        kinetic=kinetic_features(feature_joints, protocol),
        geometric=geometric_features(feature_joints, protocol),
        pfc=physical_foot_contact(joints, protocol.fps), fsr_left=left, fsr_right=right, music=music,
    )  # fmt: skip
    if beats is not None:
        scores.bas = beat_align_score(np.asarray(beats) - sample.music_offset_s, feature_joints, protocol)
    return scores


def _nanmean(values: Sequence[float]) -> float:
    values = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    return float(values.mean()) if len(values) else float("nan")


def _set_summary(scores: list[MotionScores]) -> dict:
    return {
        "count": len(scores),
        "frames": int(sum(s.frames for s in scores)),
        "bas": _nanmean([s.bas for s in scores]),
        "pfc": _nanmean([s.pfc for s in scores]) * PFC_SCALE,
        "fsr": float(np.nanmean([_nanmean([s.fsr_left for s in scores]), _nanmean([s.fsr_right for s in scores])]))
        if any(math.isfinite(s.fsr_left) or math.isfinite(s.fsr_right) for s in scores)
        else float("nan"),
    }


@dataclass
class EvalCache:
    """What :func:`evaluate_samples` may reuse between calls with the same reference set: the reference
    motions' scores by protocol and name, and the music beat times (with the tracker's name) by protocol and
    music path."""

    reference: dict[tuple[EvalProtocol, str], MotionScores] = field(default_factory=dict)
    beats: dict[tuple[EvalProtocol, Path], tuple[np.ndarray, str]] = field(default_factory=dict)


def evaluate_samples(
    generated: Sequence[MotionSample],
    reference: Sequence[MotionSample],
    protocol: str | EvalProtocol = "clean",
    music_dir: str | Path | None = None,
    ctx: JobContext | None = None,
    cache: EvalCache | None = None,
) -> EvalReport:
    """All metrics of ``generated`` against ``reference``.

    Args:
        generated, reference: motion samples (at least 2 each for FID and diversity).
        protocol: "clean", "compat" or an :class:`EvalProtocol`.
        music_dir: folder of music files; each motion's music is found by ``loading.find_music``. Without
            it (or without a match) BAS is not computed for that motion.
        ctx: progress and cancellation.
        cache: an :class:`EvalCache` filled here; pass the same one to calls that score sets against the same
            reference to score the reference and track each piece's beats once per protocol.
    """
    protocol = get_protocol(protocol)
    ctx = ctx or JobContext.null()
    if len(generated) < 2 or len(reference) < 2:
        raise InvalidInputError(
            f"need at least 2 generated and 2 reference motions, got {len(generated)} and {len(reference)}",
            hint="FID and diversity compare sets: give folders with two or more motions each",
        )
    cache = EvalCache() if cache is None else cache
    tracker = None
    scores: list[MotionScores] = []
    jobs = [("generated", s) for s in generated] + [("reference", s) for s in reference]
    unmatched = []
    for index, (set_name, sample) in enumerate(jobs):
        ctx.check_cancelled()
        ctx.report(index / len(jobs), f"scoring {set_name} motion {sample.name}")
        if set_name == "reference" and (protocol, sample.name) in cache.reference:
            scores.append(cache.reference[protocol, sample.name])
            continue
        music = find_music(sample, music_dir) if music_dir else None
        beats = None
        if music is not None:
            if (protocol, music) not in cache.beats:
                cache.beats[protocol, music] = music_beat_times(music, protocol)
            beats, tracker = cache.beats[protocol, music]
        elif music_dir and set_name == "generated":
            unmatched.append(sample.name)
        scores.append(score_motion(sample, protocol, set_name, beats, music.name if music else None))
        if set_name == "reference":
            cache.reference[protocol, sample.name] = scores[-1]

    gen = [s for s in scores if s.set == "generated"]
    ref = [s for s in scores if s.set == "reference"]
    generated_summary, reference_summary = _set_summary(gen), _set_summary(ref)
    notes: list[str] = []
    for key, attr in (("k", "kinetic"), ("g", "geometric")):
        ref_feats = np.stack([getattr(s, attr) for s in ref])
        gen_feats = np.stack([getattr(s, attr) for s in gen])
        ref_norm, gen_norm = normalise_with_reference(ref_feats, gen_feats, protocol.normalise_eps)
        generated_summary[f"fid_{key}"] = frechet_distance(gen_norm, ref_norm)
        generated_summary[f"div_{key}"] = diversity(gen_norm)
        reference_summary[f"div_{key}"] = diversity(ref_norm)
        dims = ref_feats.shape[1]
        constant = constant_dimensions(ref_feats)
        if constant and protocol.normalise_eps is not None:
            notes.append(
                f"FID_{key}/Div_{key}: {constant} of {dims} reference feature dimensions never vary; the "
                f"reference code divides them by std + {protocol.normalise_eps:g}, which inflates any generated "
                f"difference there — use a larger reference set or --mode clean"
            )
        if min(len(gen), len(ref)) <= dims:
            notes.append(
                f"FID_{key}: {len(gen)} generated / {len(ref)} reference motions for {dims}-d features — the "
                f"covariances are rank-deficient, so compare FID_{key} only between runs on the same sets"
            )
    if unmatched:
        notes.append(f"no music found for {len(unmatched)} generated motion(s) (e.g. {unmatched[0]}); BAS skips them")
    ctx.report(1.0, "evaluation done")
    return EvalReport(protocol, generated_summary, reference_summary, scores, notes, tracker)


def evaluate_folders(
    generated_dir: str | Path,
    reference_dir: str | Path,
    protocol: str | EvalProtocol = "clean",
    music_dir: str | Path | None = None,
    ctx: JobContext | None = None,
) -> EvalReport:
    """:func:`evaluate_samples` on every motion file of two folders."""
    protocol = get_protocol(protocol)
    generated = load_folder(generated_dir, default_fps=protocol.fps)
    reference = load_folder(reference_dir, default_fps=protocol.fps)
    if music_dir is not None and not Path(music_dir).is_dir():
        raise InvalidInputError(f"{music_dir} is not a folder", hint="--music takes a folder of audio files")
    return evaluate_samples(generated, reference, protocol, music_dir, ctx)
