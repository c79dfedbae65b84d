"""Weight-free checks of a rendered dance video.

* **Temporal consistency** of the render alone: PSNR and SSIM between consecutive frames (luma) and a
  flicker score 1 - mean|I_t - I_{t-1}| / 255 (the formula of VBench's ``temporal_flickering``, here on
  every frame pair rather than on VBench's static-scene clips, so the values are not VBench numbers).
* **Pose agreement** with the pose (skeleton) video that drove the render, without a pose estimator:
  the dancer's silhouette is what differs from the render's per-pixel temporal median (the static
  background), the skeleton is every bright pixel of the pose video (skeletons are drawn on black).
  ``coverage``: share of skeleton pixels inside the (slightly dilated) silhouette — does the body sit where
  the skeleton says; ``precision``: share of silhouette pixels near the skeleton — no extra limbs or
  ghosts; ``centroid_error``: distance between the two centroids / image diagonal; ``motion_overlap``:
  share of the pixels where the skeleton changes between two frames that lie near pixels where the render
  changes (needs no background model); ``motion_sync``: Pearson correlation over time of the per-frame
  motion energy (mean |frame difference|) of the two videos.
  Limits: a body part that stays on the same pixels for more than half of the clip melts into the median
  background (pass the known ``background`` image when there is one), and a moving camera breaks the
  silhouette; docs/evaluation.md lists the learned metrics (FVD, VBench) that need weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from backend.progress import JobContext
from shared.errors import InvalidInputError

#: Frames are shrunk so their longer side is at most this many pixels before any metric.
ANALYSIS_SIDE = 256
#: PSNR of two identical frames is infinite; report this cap instead.
PSNR_CAP_DB = 100.0
#: SSIM constants for 8-bit images (Wang et al. 2004): K1 = 0.01, K2 = 0.03, Gaussian window σ = 1.5, 11 px.
SSIM_C1 = (0.01 * 255) ** 2
SSIM_C2 = (0.03 * 255) ** 2
#: A pose-video pixel belongs to the skeleton above this value (0–255, brightest channel).
SKELETON_LEVEL = 40
#: A render pixel belongs to the dancer when a channel differs from the median background by more than this.
FOREGROUND_LEVEL = 30
#: Tolerance radius of the overlap tests, as a fraction of the image diagonal.
OVERLAP_RADIUS = 0.02


def read_video(path: str | Path, max_frames: int | None = None, max_side: int = ANALYSIS_SIDE) -> tuple[np.ndarray, float]:
    """Decode a video into (N, H, W, 3) uint8 RGB frames, shrunk to ``max_side``, and its frame rate."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"video file not found: {path}", hint="check the path")
    import av

    frames = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidInputError(f"{path} has no video stream", hint="give a video file (.mp4, .mkv, .webm …)")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            for frame in container.decode(video=0):
                frames.append(_shrink(frame.to_ndarray(format="rgb24"), max_side))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except InvalidInputError:
        raise
    except Exception as exc:  # PyAV raises FFmpeg errors of many kinds for broken files
        raise InvalidInputError(f"cannot decode video {path} ({exc})", hint="re-encode it as H.264 .mp4") from exc
    if len(frames) < 2:
        raise InvalidInputError(f"video {path} has {len(frames)} frame(s); at least 2 are needed", hint="render a longer clip")
    return np.stack(frames), fps


def _shrink(frame: np.ndarray, max_side: int) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return frame
    return cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def _luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two (H, W) float images in 0–255 (Gaussian window 11 px, σ 1.5)."""
    blur = lambda image: cv2.GaussianBlur(image, (11, 11), 1.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a**2 + mu_b**2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return float(np.mean(num / den))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images in 0–255, capped at ``PSNR_CAP_DB`` for identical images."""
    mse = float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))
    return PSNR_CAP_DB if mse <= 255.0**2 * 10 ** (-PSNR_CAP_DB / 10) else 10.0 * math.log10(255.0**2 / mse)


def temporal_consistency(frames: np.ndarray) -> dict:
    """Frame-to-frame consistency of (N, H, W, 3) uint8 frames, N >= 2.

    Returns:
        ``psnr_db`` (mean), ``ssim`` (mean), ``ssim_min`` (worst pair), ``flicker`` (1 - mean abs difference / 255).
    """
    luma = _luma(frames)
    ssims = [ssim(luma[i], luma[i + 1]) for i in range(len(luma) - 1)]
    psnrs = [psnr(luma[i], luma[i + 1]) for i in range(len(luma) - 1)]
    mean_abs = np.mean(np.abs(np.diff(frames.astype(np.int16), axis=0)))
    return {
        "psnr_db": float(np.mean(psnrs)),
        "ssim": float(np.mean(ssims)),
        "ssim_min": float(np.min(ssims)),
        "flicker": float(1.0 - mean_abs / 255.0),
    }


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _centroid(mask: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(mask)
    return None if len(xs) == 0 else np.array([xs.mean(), ys.mean()])


def pose_agreement(rendered: np.ndarray, pose: np.ndarray, background: np.ndarray | None = None) -> dict:
    """How well a rendered dancer follows its pose video (see the module docstring).

    Args:
        rendered: (N, H, W, 3) uint8 render frames.
        pose: (M, H', W', 3) uint8 pose-video frames (resized to the render; the shorter length is used).
        background: optional (H'', W'', 3) uint8 image of the empty scene; default: the render's temporal median.
    Returns:
        dict with ``coverage``, ``precision``, ``centroid_error``, ``motion_overlap``, ``motion_sync`` (NaN
        when either video is static) and the number of ``frames`` used.
    """
    count = min(len(rendered), len(pose))
    if count < 2:
        raise InvalidInputError("pose agreement needs at least 2 frames in both videos", hint="render a longer clip")
    rendered = rendered[:count]
    height, width = rendered.shape[1:3]
    pose = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in pose[:count]])
    radius = max(1, round(OVERLAP_RADIUS * math.hypot(width, height)))
    if background is None:
        background = np.median(rendered, axis=0)
    else:
        background = cv2.resize(np.asarray(background, dtype=np.uint8), (width, height), interpolation=cv2.INTER_AREA)
    background = background.astype(np.float64)
    coverage, precision, centroid_error, motion_overlap = [], [], [], []
    luma_render, luma_pose = _luma(rendered), _luma(pose)
    for index in range(1, count):
        pose_change = np.abs(luma_pose[index] - luma_pose[index - 1]) > SKELETON_LEVEL
        render_change = (np.abs(luma_render[index] - luma_render[index - 1]) > FOREGROUND_LEVEL).astype(np.uint8)
        if pose_change.any():
            near_change = cv2.dilate(render_change, _disc(radius)).astype(bool)
            motion_overlap.append((pose_change & near_change).sum() / pose_change.sum())
    for render_frame, pose_frame in zip(rendered, pose):
        skeleton = pose_frame.max(axis=-1) > SKELETON_LEVEL
        dancer = (np.abs(render_frame - background).max(axis=-1) > FOREGROUND_LEVEL).astype(np.uint8)
        dancer = cv2.morphologyEx(dancer, cv2.MORPH_OPEN, _disc(1)).astype(bool)
        if not skeleton.any() or not dancer.any():
            continue
        near_dancer = cv2.dilate(dancer.astype(np.uint8), _disc(radius)).astype(bool)
        near_skeleton = cv2.dilate(skeleton.astype(np.uint8), _disc(3 * radius)).astype(bool)
        coverage.append((skeleton & near_dancer).sum() / skeleton.sum())
        precision.append((dancer & near_skeleton).sum() / dancer.sum())
        centroid_error.append(np.linalg.norm(_centroid(skeleton) - _centroid(dancer)) / math.hypot(width, height))
    render_energy = np.abs(np.diff(luma_render, axis=0)).mean(axis=(1, 2))
    pose_energy = np.abs(np.diff(luma_pose, axis=0)).mean(axis=(1, 2))
    if render_energy.std() > 1e-9 and pose_energy.std() > 1e-9:
        sync = float(np.corrcoef(render_energy, pose_energy)[0, 1])
    else:
        sync = float("nan")
    mean = lambda values: float(np.mean(values)) if values else float("nan")  # noqa: E731
    return {
        "coverage": mean(coverage),
        "precision": mean(precision),
        "centroid_error": mean(centroid_error),
        "motion_overlap": mean(motion_overlap),
        "motion_sync": sync,
        "frames": count,
        "frames_with_dancer": len(coverage),
    }


@dataclass
class VideoEvalResult:
    video: str
    frames: int
    fps: float
    consistency: dict
    pose: dict | None = None

    def to_dict(self) -> dict:
        def finite(values: dict | None):
            if values is None:
                return None
            return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in values.items()}

        data = asdict(self)
        data["consistency"], data["pose"] = finite(self.consistency), finite(self.pose)
        return data

    def format_table(self) -> str:
        c = self.consistency
        lines = [
            f"MACE-Dance video check (weight-free): {self.video}, {self.frames} frames @ {self.fps:g} fps",
            f"frame-to-frame PSNR {c['psnr_db']:.2f} dB, SSIM {c['ssim']:.4f} (worst {c['ssim_min']:.4f}), "
            f"flicker score {c['flicker']:.4f}",
        ]
        if self.pose is not None:
            p = self.pose
            lines.append(
                f"pose agreement over {p['frames']} frames (background: {p.get('background', 'median of the render')}): "
                f"coverage {p['coverage']:.3f}, precision "
                f"{p['precision']:.3f}, centroid error {p['centroid_error']:.3f}, motion overlap "
                f"{p['motion_overlap']:.3f}, motion sync {p['motion_sync']:.3f}"
            )
        return "\n".join(lines)


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB image from a png/jpg file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidInputError(f"cannot read image {path}", hint="give a .png or .jpg file")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def evaluate_video(
    video: str | Path,
    pose_video: str | Path | None = None,
    max_frames: int | None = None,
    background: str | Path | np.ndarray | None = None,
    ctx: JobContext | None = None,
) -> VideoEvalResult:
    """Temporal consistency of ``video`` and, given its pose video, pose agreement (``background``: an
    image or image file of the empty scene, else the render's temporal median is used)."""
    ctx = ctx or JobContext.null()
    ctx.report(0.0, f"reading {Path(video).name}")
    frames, fps = read_video(video, max_frames)
    ctx.check_cancelled()
    ctx.report(0.4, "temporal consistency")
    result = VideoEvalResult(str(video), len(frames), fps, temporal_consistency(frames))
    if pose_video is not None:
        ctx.check_cancelled()
        ctx.report(0.6, f"reading {Path(pose_video).name}")
        pose_frames, _ = read_video(pose_video, max_frames)
        ctx.report(0.8, "pose agreement")
        if background is not None and not isinstance(background, np.ndarray):
            background = read_image(background)
        result.pose = pose_agreement(frames, pose_frames, background)
        result.pose["background"] = "median of the render" if background is None else "given image"
    ctx.report(1.0, "video check done")
    return result
