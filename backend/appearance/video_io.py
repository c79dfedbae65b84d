"""H.264 mp4 writing with the music muxed in, and a probe that reads a file back (PyAV, ffmpeg in the wheel).

The video runs at the motion's fps; frame i is shown at i / fps seconds, and the music starts at
``audio_offset_s`` seconds into the audio file (the point of the song the motion was made for), trimmed to
the video's length. Files are written to a temporary name beside the target and renamed when complete
(``shared.atomic``), so a crash never leaves a half-written video under the final name.
"""

from __future__ import annotations

import abc
import contextlib
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from backend.features.audio import probe_audio, stream_audio
from shared.atomic import atomic_path
from shared.errors import InvalidInputError

logger = logging.getLogger(__name__)

AUDIO_RATE = 48000


def _import_av():
    import av

    return av


def fps_fraction(fps: float) -> Fraction:
    """A frame rate as an exact fraction (29.97 -> 30000/1001)."""
    return Fraction(fps).limit_denominator(1001)


class CommitOnExit(abc.ABC):
    """Context-manager protocol of writers: ``close()`` on a clean exit, ``_abort(exc)`` on an error."""

    @abc.abstractmethod
    def close(self): ...

    @abc.abstractmethod
    def _abort(self, exc: BaseException) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        else:
            self._abort(exc)


class VideoWriter(CommitOnExit):
    """Write RGB frames to an H.264 mp4 one at a time; mux the music in on :meth:`close`.

    Use as a context manager: on a clean exit the file appears at ``path``; on an exception nothing is
    left behind.

    Args:
        path: target ``.mp4``.
        width, height: frame size in pixels (even numbers, as yuv420p needs).
        fps: frames per second.
        audio_path: optional music file (any format ``backend.features.audio`` reads; AAC in the mp4).
        audio_offset_s: where in the audio file the video's first frame is.
        crf: x264 quality (lower is better; 18 is visually lossless).
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        audio_path: str | Path | None = None,
        audio_offset_s: float = 0.0,
        crf: int = 18,
        preset: str = "veryfast",
    ):
        if width % 2 or height % 2 or width < 2 or height < 2:
            raise InvalidInputError(f"video size must be even in both directions, got {width}x{height}")
        if not fps > 0:
            raise InvalidInputError(f"fps must be > 0, got {fps}")
        if audio_path is not None:
            probe_audio(audio_path)  # an unreadable file fails now, not after every frame is rendered
            if not (np.isfinite(audio_offset_s) and audio_offset_s >= 0):
                raise InvalidInputError(f"audio_offset_s must be a number >= 0, got {audio_offset_s}")
        self.path = Path(path)
        self.width, self.height = width, height
        self.rate = fps_fraction(fps)
        self.audio_path = None if audio_path is None else Path(audio_path)
        self.audio_offset_s = float(audio_offset_s)
        self.frames_written = 0
        av = _import_av()
        self._atomic = atomic_path(self.path, suffix=".mp4")
        tmp_path = self._atomic.__enter__()
        try:
            self._container = av.open(str(tmp_path), mode="w", format="mp4")
            self._video = self._container.add_stream("libx264", rate=self.rate)
            self._video.width, self._video.height = width, height
            self._video.pix_fmt = "yuv420p"
            self._video.options = {"crf": str(crf), "preset": preset}
            self._audio = None
            if self.audio_path is not None:
                self._audio = self._container.add_stream("aac", rate=AUDIO_RATE)
                self._audio.layout = "stereo"
        except BaseException as exc:
            self._abort(exc)
            raise

    def write(self, frame: np.ndarray) -> None:
        """Append one frame: (H, W, 3) uint8 RGB."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise InvalidInputError(
                f"frame must be ({self.height}, {self.width}, 3) uint8, got {frame.shape} {frame.dtype}"
            )
        av = _import_av()
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        video_frame.pts = self.frames_written
        video_frame.time_base = 1 / self.rate
        for packet in self._video.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    @property
    def duration_s(self) -> float:
        return float(self.frames_written / self.rate)

    def close(self) -> Path:
        """Flush the video, mux the music (trimmed to the video) and move the file into place."""
        try:
            for packet in self._video.encode():
                self._container.mux(packet)
            if self._audio is not None and self.frames_written:
                self._mux_audio()
            self._container.close()
        except BaseException as exc:
            self._abort(exc)
            raise
        self._atomic.__exit__(None, None, None)
        return self.path

    def _mux_audio(self) -> None:
        """Stream the music's span (any format the decoder reads) into the AAC encoder, chunk by chunk."""
        av = _import_av()
        position = 0
        for chunk in stream_audio(self.audio_path, start_s=self.audio_offset_s, duration_s=self.duration_s,
                                  sample_rate=AUDIO_RATE, channels="stereo"):
            audio_frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
            audio_frame.sample_rate = AUDIO_RATE
            audio_frame.pts = position
            audio_frame.time_base = Fraction(1, AUDIO_RATE)
            position += chunk.shape[1]
            for packet in self._audio.encode(audio_frame):  # PyAV re-chunks to the encoder's frame size
                self._container.mux(packet)
        for packet in self._audio.encode():
            self._container.mux(packet)

    def _abort(self, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        self._atomic.__exit__(type(exc), exc, exc.__traceback__)


@dataclass(frozen=True)
class MediaInfo:
    """What a video file really contains (counted by decoding, not read from headers).

    Attributes:
        frames: number of decoded video frames.
        fps: the video stream's average frame rate.
        width, height: pixels.
        duration_s: frames / fps.
        audio_duration_s: decoded audio samples / sample rate, or None without an audio stream.
        audio_rate: audio sample rate in Hz, or None.
        video_codec: e.g. "h264".
    """

    frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    audio_duration_s: float | None
    audio_rate: int | None
    video_codec: str


def probe(path: str | Path) -> MediaInfo:
    """Decode a video file and count what is in it."""
    av = _import_av()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate)
        frames = sum(1 for _ in container.decode(video=0))
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height
    audio_duration = audio_rate = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio_rate = container.streams.audio[0].rate
            samples = sum(frame.samples for frame in container.decode(audio=0))
            audio_duration = samples / audio_rate
    return MediaInfo(frames, fps, width, height, frames / fps, audio_duration, audio_rate, codec)


def read_frames(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video file (at most ``max_frames``) as (H, W, 3) uint8 RGB."""
    av = _import_av()
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if max_frames is not None and index >= max_frames:
                break
            yield frame.to_ndarray(format="rgb24")
