"""A quick preview of a motion: its pose skeleton on black with the music, no reference image needed."""

from __future__ import annotations

from pathlib import Path

from backend.progress import JobContext, ensure_context
from shared.motion import Motion

from .pose_video import PoseVideo, PoseVideoOptions
from .video_io import VideoWriter


def write_preview_video(
    motion: Motion,
    path: str | Path,
    audio_path: str | Path | None = None,
    audio_offset_s: float = 0.0,
    ctx: JobContext | None = None,
    width: int = 540,
    height: int = 960,
    style: str = "dwpose",
) -> Path:
    """Write the motion as a skeleton video (DWPose style, thicker lines than Wan's) at the motion's fps.

    Args:
        motion: the dance.
        path: ``.mp4`` to write (atomically).
        audio_path: music to mux in; ``audio_offset_s`` is where in it the motion starts.
        ctx: progress and cancellation.
    """
    ctx = ensure_context(ctx)
    pose = PoseVideo(motion, PoseVideoOptions(width=width, height=height, style=style, hands=True))
    with VideoWriter(path, width, height, motion.fps, audio_path=audio_path, audio_offset_s=audio_offset_s) as writer:
        for index, frame in enumerate(pose.frames()):
            writer.write(frame)
            if index % 10 == 0:
                ctx.report(index / len(pose), f"frame {index}/{len(pose)}")
                ctx.check_cancelled()
    ctx.report(1.0, "preview written")
    return Path(path)
