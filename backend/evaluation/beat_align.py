"""Beat Align Score (BAS): how well the dancer's kinematic beats meet the music's beats.

Motion beats (Bailando ``calc_db``): the per-frame mean joint speed |p[t+1] - p[t]| averaged over joints,
Gaussian-smoothed (σ = 5 frames in the reference code; 1/12 s in the clean protocol), and its local minima — the dancer pauses or changes direction (strict
minima in compat mode as in the reference; flat minima count too, at their middle, in clean mode).
Score (Bailando ``BA``): for each music beat, exp(-d² / (2σ²)) with d the distance to the nearest motion
beat, averaged over music beats; σ² = 9 frames² in the reference code.

Music beats: the EDGE-lineage librosa tracker (15360 Hz, hop 512 → exactly 30 frames/s, onset-strength
envelope, ``beat_track(start_bpm, tightness=100)``) in the compat protocol; the product's own
``backend.features.analyze_music`` in the clean protocol when it is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema, find_peaks


from .protocol import EvalProtocol

#: Reference smoothing of the mean joint speed, frames (at the rate the protocol runs in compat mode).
SMOOTHING_SIGMA_FRAMES = 5.0
#: Reference BAS Gaussian: σ² = 9 frames².
BAS_SIGMA_FRAMES = 3.0

def mean_joint_speed(joints: np.ndarray) -> np.ndarray:
    """(T, J, 3) positions → (T-1,) mean over joints of the per-frame displacement length (metres/frame)."""
    return np.linalg.norm(joints[1:] - joints[:-1], axis=-1).mean(axis=1)


def motion_beats(joints: np.ndarray, protocol: EvalProtocol) -> np.ndarray:
    """Kinematic beats of one motion.

    Args:
        joints: (T, J, 3) positions at ``protocol.fps``.
    Returns:
        compat: (K,) int frame indices into the speed curve (Bailando convention);
        clean: (K,) float seconds, each at the centre of its speed interval ((i + ½) / fps).
    """
    speed = mean_joint_speed(np.asarray(joints, dtype=np.float64))
    if protocol.bas_smoothing_s is not None:
        sigma = protocol.bas_smoothing_s * protocol.fps
    else:
        sigma = SMOOTHING_SIGMA_FRAMES
    smooth = gaussian_filter1d(speed, sigma)  # scipy default: mode "reflect", truncate 4σ, as in the reference
    if protocol.bas_continuous_time:
        # A minimum may be flat (two equal samples around a symmetric stop): take the plateau's middle.
        # The reference's strict ``argrelextrema(np.less)`` misses such minima altogether.
        _, plateau = find_peaks(-smooth, plateau_size=(None, None))
        middle = (plateau["left_edges"] + plateau["right_edges"]) / 2.0
        return (middle + 0.5) / protocol.fps
    return argrelextrema(smooth, np.less)[0]


def beat_align_score(music_beat_times: np.ndarray, joints: np.ndarray, protocol: EvalProtocol) -> float:
    """BAS of one motion against its music.

    Args:
        music_beat_times: (B,) seconds from the start of the motion.
        joints: (T, J, 3) positions at ``protocol.fps``.
    Returns:
        score in [0, 1]; NaN when no music beat falls inside the motion; 0 when the motion has no beat.
        Music beats after the last speed sample are dropped (Bailando truncates the beat track to the
        motion length).
    """
    music = np.asarray(music_beat_times, dtype=np.float64)
    num_speed = len(joints) - 1
    dance = motion_beats(joints, protocol)
    if protocol.bas_continuous_time:
        music = music[(music >= 0.0) & (music <= num_speed / protocol.fps)]
        sigma = protocol.bas_sigma_s
    else:
        music = np.unique(np.round(music * protocol.fps).astype(np.int64))
        music = music[(music >= 0) & (music < num_speed)]
        sigma = BAS_SIGMA_FRAMES
    if len(music) == 0:
        return float("nan")
    if len(dance) == 0:
        return 0.0
    nearest = np.min(np.abs(music[:, None] - dance[None, :]), axis=1).astype(np.float64)
    return float(np.mean(np.exp(-(nearest**2) / (2.0 * sigma**2))))


def edge_music_beat_times(path: str | Path) -> np.ndarray:
    """Beat times (seconds) with the EDGE-lineage tracker used by EDGE, Lodge and MACE-Dance.

    That tracker (librosa ``beat_track`` at 15360 Hz, hop 512, tightness 100, prior tempo from an AIST++ music
    name or from a 22.05 kHz reload) is what ``backend.features.analyze_music`` implements and tests against
    EDGE's own steps, so both protocols read beats from there.
    """
    from backend.features import analyze_music

    return np.asarray(analyze_music(Path(path)).beat_times, dtype=np.float64)


def music_beat_times(path: str | Path, protocol: EvalProtocol) -> tuple[np.ndarray, str]:
    """Beat times (seconds) of a music file and the name of the tracker that found them."""
    label = "backend.features.analyze_music" if protocol.music_beats == "product" else (
        "edge-librosa (15360 Hz, hop 512, tightness 100)")
    return edge_music_beat_times(path), label
