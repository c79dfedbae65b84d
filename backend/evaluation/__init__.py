"""Evaluation of generated dance: the standard motion metrics and weight-free video checks.

Motion metrics (docs/evaluation.md gives every formula and constant with its source):

* FID_k / FID_g — Fréchet distance between the kinetic (72-d) / geometric (32-d) features of a generated
  and a reference set, both normalised with the reference statistics;
* Div_k / Div_g — mean pairwise distance of those normalised features within a set;
* BAS — Beat Align Score between kinematic beats and music beats;
* PFC — EDGE's Physical Foot Contact score; FSR — Lodge's foot-skating ratio.

Two protocols (``protocol.CLEAN`` and ``protocol.COMPAT`` = "bailando-compat"); every report names the
one that ran. ``video`` holds per-video temporal consistency and pose agreement of a rendered video
with its pose video.
"""

from .beat_align import beat_align_score, motion_beats, music_beat_times
from .distribution import diversity, frechet_distance, normalise_with_reference
from .evaluate import EvalReport, evaluate_folders, evaluate_samples, score_motion
from .foot import foot_skating_ratio, physical_foot_contact
from .geometric import geometric_features
from .kinetic import kinetic_features
from .loading import MotionSample, load_folder, load_sample
from .protocol import CLEAN, COMPAT, EvalProtocol, get_protocol

__all__ = [
    "CLEAN", "COMPAT", "EvalProtocol", "EvalReport", "MotionSample", "beat_align_score", "diversity",
    "evaluate_folders", "evaluate_samples", "foot_skating_ratio", "frechet_distance", "geometric_features",
    "get_protocol", "kinetic_features", "load_folder", "load_sample", "motion_beats", "music_beat_times",
    "normalise_with_reference", "physical_foot_contact", "score_motion",
]  # fmt: skip
