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

from shared.atomic import atomic_path
from shared.errors import InvalidInputError

logger = logging.getLogger(__name__)

AUDIO_RATE = 48000
_AAC_FRAME = 1024


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
        audio_path: optional music file (anything ffmpeg decodes: wav, mp3, ogg, flac, m4a …).
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
        if audio_path is not None and not Path(audio_path).is_file():
            raise InvalidInputError(f"audio file not found: {audio_path}")
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
            if self._audio is not None:
                self._mux_audio()
            self._container.close()
        except BaseException as exc:
            self._abort(exc)
            raise
        self._atomic.__exit__(None, None, None)
        return self.path

    def _mux_audio(self) -> None:
        samples = load_audio_samples(self.audio_path, self.audio_offset_s, self.duration_s)
        av = _import_av()
        for start in range(0, samples.shape[1], _AAC_FRAME):
            chunk = np.ascontiguousarray(samples[:, start : start + _AAC_FRAME])
            audio_frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            audio_frame.sample_rate = AUDIO_RATE
            audio_frame.pts = start
            audio_frame.time_base = Fraction(1, AUDIO_RATE)
            for packet in self._audio.encode(audio_frame):
                self._container.mux(packet)
        for packet in self._audio.encode():
            self._container.mux(packet)

    def _abort(self, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        self._atomic.__exit__(type(exc), exc, exc.__traceback__)


def load_audio_samples(path: str | Path, offset_s: float = 0.0, duration_s: float | None = None) -> np.ndarray:
    """Decode audio to (2, N) float32 stereo at 48 kHz, starting ``offset_s`` in, at most ``duration_s`` long."""
    av = _import_av()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise InvalidInputError(f"cannot read audio file {path}: {exc}", hint="use a wav, mp3, ogg or flac file") from exc
    with container:
        if not container.streams.audio:
            raise InvalidInputError(f"{path} has no audio stream")
        # Mono is duplicated to both channels ourselves: ffmpeg's upmix would lower it by 3 dB.
        mono = container.streams.audio[0].codec_context.layout.nb_channels == 1
        resampler = av.AudioResampler(format="fltp", layout="mono" if mono else "stereo", rate=AUDIO_RATE)
        skip = int(round(max(offset_s, 0.0) * AUDIO_RATE))
        limit = None if duration_s is None else int(round(duration_s * AUDIO_RATE))
        chunks: list[np.ndarray] = []
        kept = 0
        try:
            decoded = container.decode(audio=0)
            for frame in _with_flush(decoded, resampler):
                data = frame.to_ndarray().reshape(1 if mono else 2, -1)
                if mono:
                    data = np.repeat(data, 2, axis=0)
                if skip:
                    dropped = min(skip, data.shape[1])
                    data, skip = data[:, dropped:], skip - dropped
                if limit is not None:
                    data = data[:, : limit - kept]
                if data.shape[1]:
                    chunks.append(data)
                    kept += data.shape[1]
                if limit is not None and kept >= limit:
                    break
        except av.error.FFmpegError as exc:
            raise InvalidInputError(f"cannot decode audio file {path}: {exc}") from exc
    if not chunks:
        return np.zeros((2, 0), dtype=np.float32)
    return np.concatenate(chunks, axis=1).astype(np.float32)


def _with_flush(decoded, resampler) -> Iterator:
    for frame in decoded:
        yield from resampler.resample(frame)
    yield from resampler.resample(None)


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
