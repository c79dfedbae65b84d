"""The one audio decoder: music analysis, the preview and final videos, and the server all read music here.

FFmpeg (through PyAV, which ships it in its wheel) decodes first: it reads every common container and codec
(WAV, FLAC, MP3, Ogg Vorbis/Opus/FLAC, Opus, M4A/AAC/ALAC, WebM, MKA, AIFF, and the sound of MP4/MOV/MKV
videos), choosing by the file's content, not its name. libsndfile (``soundfile``) is the single fallback,
for files FFmpeg refuses: FFmpeg parses some headers more strictly than the reference libraries (e.g. an Ogg
Vorbis file whose setup header carries padding after its framing bit, which libvorbis reads).

Only the span asked for is decoded: the decoder seeks to its start, streams frames, converts them (sample
format, channels, rate) as they come, and stops at its end, so memory follows the span, not the file.
:class:`DecodeStats` is the decoder's own accounting of what it held, for callers and tests to check that.

Timeline: second 0 is the first sample the file decodes to (as libsndfile and librosa count), whatever
timestamps the container carries.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

import numpy as np

from shared.audio_formats import AUDIO_FORMATS_TEXT, CONVERT_HINT
from shared.errors import InvalidInputError, NotFoundError, TooLargeError

#: Longest stretch of music analysed at once (an hour): no dance needs more.
MAX_DURATION_S = 3600.0
#: Shortest music worth analysing.
MIN_DURATION_S = 1.0
#: Peak amplitude below which music counts as silent (-80 dBFS).
SILENCE_PEAK = 1e-4
#: Analysis decodes at most this rate (FFmpeg resamples hi-res files on the fly; 44.1/48 kHz pass unchanged).
ANALYSIS_MAX_RATE = 48000
#: Seeks aim this much before the span (the samples in between are decoded and dropped).
_SEEK_MARGIN_S = 0.1
#: Without a length in the headers, the output buffer starts this long and grows.
_UNKNOWN_LENGTH_START_S = 60.0
#: Samples per channel in each chunk the decoder hands on (and per libsndfile read).
CHUNK_SAMPLES = 16384

FFMPEG, LIBSNDFILE = "FFmpeg", "libsndfile"
Channels = Literal["mono", "stereo"] | None


@dataclass(frozen=True)
class AudioInfo:
    """What a music file holds, from its headers.

    Attributes:
        sample_rate: Hz.
        channels: channel count.
        duration_s: length in seconds (None when the headers do not say).
        codec: e.g. "vorbis", "aac", "pcm_s16le".
        container: e.g. "Ogg", "QuickTime / MOV".
        decoder: which decoder read it ("FFmpeg" or "libsndfile").
    """

    sample_rate: int
    channels: int
    duration_s: float | None
    codec: str
    container: str
    decoder: str


@dataclass
class DecodeStats:
    """The decoder's own accounting of one decode.

    Attributes:
        decoder: which decoder produced the samples (the fallback's name when it took over).
        source_samples: samples per channel that came out of the codec (at the file's rate): a seek that
            works keeps this near the span's length however long the file is.
        peak_bytes: the most sample bytes held at once: the caller's output buffer (see
            :func:`decode_audio`) plus the decoded, converted and resampled chunks in flight. FFmpeg's own
            demuxer buffers (a few packets) are not counted.
        buffer_bytes: the size of that output buffer now (0 while streaming).
    """

    decoder: str = ""
    source_samples: int = 0
    peak_bytes: int = 0
    buffer_bytes: int = 0

    def hold(self, *in_flight: int) -> None:
        self.peak_bytes = max(self.peak_bytes, self.buffer_bytes + sum(in_flight))


@dataclass
class DecodedAudio:
    """A decoded span: ``samples`` (channels, N) float32 at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    info: AudioInfo
    stats: DecodeStats

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate


class _Refused(Exception):
    """One decoder cannot read the file (the reason is in the message)."""


# --------------------------------------------------------------------------------------------- public API


def probe_audio(path: str | Path, name: str | None = None) -> AudioInfo:
    """Read a music file's headers (no decoding): rate, channels, duration, codec and container.

    Args:
        path: the file.
        name: what to call it in messages (e.g. the client's file name for an upload); default ``path``.
    Raises:
        NotFoundError: no such file.
        InvalidInputError: neither decoder reads it; says what was tried and what the file is.
    """
    path, label = _checked_path(path, name)
    refusals = []
    for decoder in (_FFmpegSource, _SndfileSource):
        try:
            with decoder(path) as source:
                return source.info
        except _Refused as exc:
            refusals.append(f"{decoder.NAME}: {exc}")
    raise _unreadable(path, label, refusals)


def stream_audio(
    path: str | Path,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    sample_rate: int | None = None,
    channels: Channels = None,
    name: str | None = None,
    stats: DecodeStats | None = None,
) -> Iterator[np.ndarray]:
    """Decode ``duration_s`` seconds from ``start_s`` (to the end when None) as a stream of chunks.

    Args:
        path: the file (any format FFmpeg or libsndfile reads; decided by content).
        start_s, duration_s: the span, in seconds from the first sample.
        sample_rate: resample to this rate on the fly (None keeps the file's).
        channels: "mono" (the mean of all channels, as librosa), "stereo" (mono duplicated, surround
            downmixed by FFmpeg) or None (the file's channels).
        name: what to call the file in messages.
        stats: filled with the decoder's accounting.
    Yields:
        (channels, n) float32 chunks in order; together exactly the span (shorter when the file ends).
    Raises:
        NotFoundError, InvalidInputError: as :func:`probe_audio`; also for a bad span.
    """
    path, label = _checked_path(path, name)
    _check_span(start_s, duration_s, sample_rate)
    return _stream(path, label, start_s, duration_s, sample_rate, channels, DecodeStats() if stats is None else stats)


def _stream(path: Path, label: str, start_s: float, duration_s: float | None, sample_rate: int | None,
            channels: Channels, stats: DecodeStats) -> Iterator[np.ndarray]:
    refusals: list[str] = []
    emitted_s = 0.0  # when FFmpeg fails part-way, the fallback carries on from here
    for decoder in (_FFmpegSource, _SndfileSource):
        stats.decoder = decoder.NAME
        try:
            with decoder(path) as source:
                rate = sample_rate or source.info.sample_rate
                span_start = start_s + emitted_s
                remaining = None if duration_s is None else round(duration_s * rate) - round(emitted_s * rate)
                for chunk in source.span(span_start, remaining, rate, channels, stats):
                    emitted_s += chunk.shape[1] / rate
                    yield chunk
                return
        except _Refused as exc:
            refusals.append(f"{decoder.NAME}: {exc}")
    raise _unreadable(path, label, refusals)


def decode_audio(
    path: str | Path,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    sample_rate: int | None = None,
    channels: Channels = None,
    name: str | None = None,
) -> DecodedAudio:
    """The span of :func:`stream_audio` in one array; see there for the arguments.

    The output buffer is allocated once, for the span (no longer than the file's headers say it is), and
    filled in place, so the peak memory is the span plus one chunk in flight (``stats.peak_bytes``). An open
    span (``duration_s`` None) stops after ``MAX_DURATION_S`` and raises ``TooLargeError``, however short the
    headers say the file is.
    """
    _check_span(start_s, duration_s, sample_rate)
    info = probe_audio(path, name)
    stats = DecodeStats()
    rate = sample_rate or info.sample_rate
    out_channels = {"mono": 1, "stereo": 2}.get(channels or "", info.channels)
    if duration_s is None:  # to the end, but never past the longest music analysed: headers may lie
        duration_s = MAX_DURATION_S + 1.0
    wanted = round(duration_s * rate)
    if info.duration_s is not None:  # no bigger than the file (its headers' estimate, plus a second)
        capacity = round((max(info.duration_s - start_s, 0.0) + 1.0) * rate)
    else:
        capacity = round(_UNKNOWN_LENGTH_START_S * rate)
    capacity = min(capacity, wanted)
    samples = np.empty((out_channels, capacity or 0), dtype=np.float32)
    stats.buffer_bytes = samples.nbytes
    filled = 0
    for chunk in stream_audio(path, start_s=start_s, duration_s=duration_s, sample_rate=sample_rate,
                              channels=channels, name=name, stats=stats):
        if filled + chunk.shape[1] > samples.shape[1]:  # the headers under-estimated: grow by half
            grown = max(filled + chunk.shape[1], samples.shape[1] * 3 // 2)
            grown = min(grown, wanted)
            stats.hold(grown * out_channels * 4)  # old and new buffers, briefly together
            samples = np.concatenate([samples[:, :filled], np.empty((out_channels, grown - filled), np.float32)], 1)
            stats.buffer_bytes = samples.nbytes
        samples[:, filled : filled + chunk.shape[1]] = chunk
        filled += chunk.shape[1]
    if filled > MAX_DURATION_S * rate:
        raise _too_long(name or path, filled / rate)
    return DecodedAudio(samples[:, :filled], rate, info, stats)


def measure_audio(path: str | Path, max_duration_s: float, name: str | None = None) -> AudioInfo:
    """The file's :class:`AudioInfo` with ``duration_s`` counted by decoding, never taken from its headers.

    Headers lie (a FLAC may announce 10 s and hold 20 minutes, or announce nothing): the samples are decoded
    (mono, at the file's rate) and counted, and the count stops a second past ``max_duration_s``, so the
    work and memory follow the limit, not the file. A ``duration_s`` above ``max_duration_s`` therefore
    means "at least this long": the caller's limit check refuses it.

    Raises:
        NotFoundError, InvalidInputError: as :func:`probe_audio`; also for a file holding no samples.
    """
    info = probe_audio(path, name)
    counted = 0
    for chunk in stream_audio(path, duration_s=max_duration_s + 1.0, channels="mono", name=name):
        counted += chunk.shape[1]
    if counted == 0:
        raise InvalidInputError(f"music file {name or path} holds no samples", "send a music file with sound in it")
    return dataclasses.replace(info, duration_s=counted / info.sample_rate)


def load_audio(
    path: str | Path, sr: int | None = None, *, start_s: float = 0.0, duration_s: float | None = None
) -> tuple[np.ndarray, int]:
    """Decode a span of a music file to mono for analysis, refusing what cannot be danced to.

    Args:
        path: a music file (see ``shared.audio_formats``).
        sr: resample to this rate (Hz) with librosa's soxr, as EDGE's ``librosa.load`` does; None keeps the
            file's rate, or ``ANALYSIS_MAX_RATE`` for hi-res files (resampled while decoding).
        start_s, duration_s: the span (to the end when None).
    Returns:
        (samples (N,) float32 in [-1, 1], sample rate in Hz).
    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: no decoder reads it, the span starts past its end, is shorter than
            ``MIN_DURATION_S``, empty or silent.
        TooLargeError: the span is longer than ``MAX_DURATION_S``.
    """
    info = probe_audio(path)
    if duration_s is None and info.duration_s is not None and info.duration_s - start_s > MAX_DURATION_S:
        raise _too_long(path, info.duration_s - start_s)
    limit = MAX_DURATION_S + 1.0 if duration_s is None else duration_s
    rate = info.sample_rate if info.sample_rate <= ANALYSIS_MAX_RATE else ANALYSIS_MAX_RATE
    decoded = decode_audio(path, start_s=start_s, duration_s=limit, sample_rate=rate, channels="mono")
    if duration_s is None and decoded.duration_s > MAX_DURATION_S:
        raise _too_long(path, decoded.duration_s)
    if decoded.samples.shape[1] == 0 and start_s > 0:
        length = f"{info.duration_s:.1f} s long" if info.duration_s else "shorter"
        raise InvalidInputError(f"start {start_s:g} s lies outside {path} ({length})", hint="start earlier")
    where = "" if start_s == 0 and duration_s is None else f" from {start_s:g} s on"
    if decoded.samples.shape[1]:
        check_length(decoded.duration_s, f"{path}{where}")
    return _checked_mono(decoded.samples[0], decoded.sample_rate, sr, f"{path}{where}")


def check_length(seconds: float, name: str) -> None:
    """Refuse music shorter than ``MIN_DURATION_S`` (nothing to dance to)."""
    if seconds < MIN_DURATION_S:
        raise InvalidInputError(
            f"only {seconds:.2f} s of {name} would be analysed; at least {MIN_DURATION_S:g} s is needed",
            hint="choose a longer stretch of music",
        )


def prepare_audio(samples: np.ndarray, sr: int, target_sr: int | None = None, name: str = "audio") -> np.ndarray:
    """Validate in-memory samples ((N,) mono or (N, C) / (C, N) multichannel) and resample them."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        channel_axis = 0 if samples.shape[0] < samples.shape[1] else 1
        samples = samples.mean(axis=channel_axis)
    if samples.ndim != 1:
        raise InvalidInputError(f"{name}: samples must be (N,) or (N, channels), got shape {samples.shape}")
    if not (isinstance(sr, (int, np.integer)) and sr > 0):
        raise InvalidInputError(f"{name}: sample rate must be a positive integer, got {sr!r}")
    return _checked_mono(samples, int(sr), target_sr, name)[0]


# ------------------------------------------------------------------------------------------------ helpers


def _checked_path(path: str | Path, name: str | None) -> tuple[Path, str]:
    path = Path(path)
    label = name or str(path)
    if not path.is_file():
        raise NotFoundError(f"music file {label} does not exist",
                            hint=f"give the path of a music file ({AUDIO_FORMATS_TEXT})")
    return path, label


def _check_span(start_s: float, duration_s: float | None, sample_rate: int | None = None) -> None:
    if not (isinstance(start_s, (int, float)) and math.isfinite(start_s) and start_s >= 0):
        raise InvalidInputError(f"start {start_s!r} s must be a number >= 0", hint="start at 0 or later")
    if duration_s is not None and not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s)
                                       and duration_s > 0):
        raise InvalidInputError(f"duration {duration_s!r} s must be a positive number", hint="ask for at least 1 s")
    if sample_rate is not None and not (isinstance(sample_rate, int) and sample_rate > 0):
        raise InvalidInputError(f"sample rate {sample_rate!r} must be a positive integer (Hz)", hint="e.g. 48000")


def _too_long(path, seconds: float) -> TooLargeError:
    return TooLargeError(f"music file {path} lasts {seconds:.0f} s from the start asked for, longer than "
                         f"{MAX_DURATION_S:.0f} s", hint="pass a start and a duration for the part to dance to")


def _checked_mono(samples: np.ndarray, native_sr: int, target_sr: int | None, name: str) -> tuple[np.ndarray, int]:
    if samples.size == 0:
        raise InvalidInputError(f"music file {name} contains no audio samples", hint="choose a file with music in it")
    if not np.isfinite(samples).all():
        raise InvalidInputError(f"music file {name} contains NaN or infinite samples", hint=CONVERT_HINT)
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise InvalidInputError(
            f"music file {name} is silent from start to end (peak below -80 dBFS)",
            hint="choose a file (or a part of it) with audible music",
        )
    if target_sr is not None and int(target_sr) != native_sr:
        import librosa

        samples = librosa.resample(samples, orig_sr=native_sr, target_sr=int(target_sr))
        native_sr = int(target_sr)
    return np.ascontiguousarray(samples, dtype=np.float32), native_sr


def _unreadable(path: Path, label: str, refusals: list[str]) -> InvalidInputError:
    return InvalidInputError(
        f"{label} could not be decoded: it is {describe_file(path)}; tried {'; '.join(refusals)}",
        hint=f"choose a music file ({AUDIO_FORMATS_TEXT}), or {CONVERT_HINT}",
    )


_SIGNATURES = (
    (0, b"\x89PNG", "a PNG image"), (0, b"\xff\xd8\xff", "a JPEG image"), (0, b"GIF8", "a GIF image"),
    (8, b"WEBP", "a WebP image"), (0, b"%PDF", "a PDF document"), (0, b"PK\x03\x04", "a ZIP archive"),
    (0, b"7z\xbc\xaf", "a 7z archive"), (8, b"WAVE", "a WAV file"), (0, b"OggS", "an Ogg file"),
    (0, b"fLaC", "a FLAC file"), (0, b"ID3", "an MP3 file"), (4, b"ftyp", "an MP4/M4A/MOV file"),
    (0, b"\x1aE\xdf\xa3", "a Matroska/WebM file"),
)


def describe_file(path: Path) -> str:
    """What a file looks like from its first bytes, for messages ("a PNG image, 1,234 bytes")."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(512)
    what = next((kind for offset, magic, kind in _SIGNATURES if head[offset : offset + len(magic)] == magic), None)
    if what is None:
        if not head.strip(b"\x00"):
            what = "all zero bytes" if head else "empty"
        else:
            try:
                text = head.decode("utf-8")
                what = "a text file" if all(c.isprintable() or c.isspace() for c in text) else None
            except UnicodeDecodeError:
                what = None
        what = what or f"data of no format FFmpeg or libsndfile knows (starts with {head[:8].hex(' ')})"
    return f"{what}, {size:,} bytes"


def _layout_name(count: int) -> str:
    return {1: "mono", 2: "stereo"}.get(count, f"{count}c")


class _Converter:
    """Turns decoded frames into float32 (channels, n) chunks at the output rate, as they come.

    Codecs hand over small frames (Vorbis: ~1000 samples); they are gathered into chunks of about
    ``CHUNK_SAMPLES`` so the per-chunk work (channel mix, trimming) runs a few times a second of music.
    """

    def __init__(self, source_channels: int, rate: int, channels: Channels):
        self.rate, self.channels = rate, channels
        # Mono duplication and the mono mean are ours (FFmpeg's upmix is 3 dB lower; librosa takes the mean);
        # a surround downmix to stereo is FFmpeg's.
        self._downmix = channels == "stereo" and source_channels > 2
        self._resampler = None
        self._gathered: list[np.ndarray] = []
        self.gathered_samples = 0

    @property
    def gathered_bytes(self) -> int:
        return sum(part.nbytes for part in self._gathered)

    def frame(self, frame) -> Iterator[np.ndarray]:
        """Convert one ``av.AudioFrame`` (any sample format, rate and layout)."""
        if self._resampler is None:
            import av

            # Packed float out, never planar: PyAV's planes of a planar frame of 8 or more channels reach past
            # FFmpeg's fixed data pointers and read freed memory (a segfault on any 7.1 file), while a packed
            # frame of any channel count is one plane.
            self._resampler = av.AudioResampler(format="flt", layout="stereo" if self._downmix else None,
                                                rate=self.rate)
        for out in self._resampler.resample(frame):
            # The plane as an array without PyAV's to_ndarray (slow for small frames); copied when gathered.
            count = out.layout.nb_channels
            packed = np.frombuffer(out.planes[0], np.float32, out.samples * count).reshape(out.samples, count)
            self._gathered.append(np.ascontiguousarray(self._mix(packed.T)))  # a copy: the frame is reused
            self.gathered_samples += out.samples
        if self.gathered_samples >= CHUNK_SAMPLES:
            yield self._release()

    def array(self, block: np.ndarray, source_rate: int) -> Iterator[np.ndarray]:
        """Convert a (channels, n) float32 block at ``source_rate``."""
        if self.channels == "mono":  # the mean first: the resampler then carries one channel, whatever the file's
            block = block.mean(axis=0, keepdims=True)
        if source_rate == self.rate and not self._downmix:
            yield self._mix(block)
            return
        import av

        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block.T).reshape(1, -1), format="flt",
                                           layout=_layout_name(block.shape[0]))
        frame.sample_rate = source_rate
        yield from self.frame(frame)

    def flush(self) -> Iterator[np.ndarray]:
        """What is still gathered, and what the resampler still holds, at the end of the file."""
        if self._resampler is not None:
            yield from self.frame(None)
        if self._gathered:
            yield self._release()

    def _release(self) -> np.ndarray:
        data = np.concatenate(self._gathered, axis=1) if len(self._gathered) > 1 else self._gathered[0]
        self._gathered, self.gathered_samples = [], 0
        return data

    def _mix(self, data: np.ndarray) -> np.ndarray:
        data = np.asarray(data, dtype=np.float32)
        if self.channels == "mono" and data.shape[0] > 1:
            return data.mean(axis=0, keepdims=True)
        if self.channels == "stereo" and data.shape[0] == 1:
            return np.repeat(data, 2, axis=0)
        return data


class _Trimmer:
    """Keeps the output samples inside the span [first, first + count) of the output timeline.

    ``position`` is the output sample the next chunk starts at.
    """

    def __init__(self, first: int, count: int | None):
        self.first, self.count, self.kept, self.position = first, count, 0, 0

    @property
    def done(self) -> bool:
        return self.count is not None and self.kept >= self.count

    def take(self, data: np.ndarray, stats: DecodeStats, *in_flight: int) -> np.ndarray | None:
        """The part of ``data`` inside the span (None when none is); accounts what is held meanwhile."""
        lo = max(self.first + self.kept - self.position, 0)
        hi = data.shape[1] if self.count is None else min(data.shape[1], self.first + self.count - self.position)
        self.position += data.shape[1]
        part = data[:, lo:hi] if hi > lo else None
        stats.hold(*in_flight, data.nbytes, 0 if part is None else part.nbytes)
        if part is not None:
            self.kept += part.shape[1]
        return part

    def feed(self, chunks: Iterator[np.ndarray], stats: DecodeStats, in_flight: int = 0) -> Iterator[np.ndarray]:
        """:meth:`take` each chunk; yields the parts inside the span and stops once it is complete."""
        for data in chunks:
            part = self.take(data, stats, in_flight)
            if part is not None:
                yield part
            if self.done:
                return


class _Unplaced(Exception):
    """A seek landed where the span's start cannot be found (past it, or without timestamps)."""


class _FFmpegSource:
    """FFmpeg through PyAV: the first audio stream of any container it recognises by content."""

    NAME = FFMPEG

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        import av

        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise _Refused(_ffmpeg_reason(exc)) from None
        streams, kind = self.container.streams, self.container.format.long_name
        if not streams.audio:
            found = ", ".join(f"{s.type} ({s.codec_context.name if s.codec_context else '?'})" for s in streams) or "none"
            self.container.close()
            raise _Refused(f"no audio stream in this {kind} file (streams: {found})")
        self.stream = streams.audio[0]
        codec = self.stream.codec_context
        if codec is None:  # a codec this FFmpeg does not know (e.g. a WAV with an unknown format tag)
            self.container.close()
            raise _Refused(f"its audio stream is in a codec FFmpeg does not know (in this {kind} file)")
        duration = None
        if self.stream.duration is not None and self.stream.time_base is not None:
            duration = float(self.stream.duration * self.stream.time_base)
        elif self.container.duration is not None:
            duration = self.container.duration / 1_000_000  # av.time_base
        self.info = AudioInfo(int(codec.sample_rate or self.stream.rate or 0), int(codec.layout.nb_channels),
                              duration if duration and duration > 0 else None, codec.name, kind, FFMPEG)
        if self.info.sample_rate <= 0 or self.info.channels <= 0:
            self.container.close()
            raise _Refused(f"its {codec.name} stream has no sample rate or channels")
        return self

    def __exit__(self, *exc_info) -> None:
        self.container.close()

    def span(self, start_s: float, count: int | None, rate: int, channels: Channels,
             stats: DecodeStats) -> Iterator[np.ndarray]:
        """Yield ``count`` output samples (None = to the end) from ``start_s``, seeking there first."""
        import av

        if count == 0:
            return
        try:
            if start_s > 0:
                # Timestamps count from the first decoded frame's (an Ogg Vorbis stream may start at 256).
                origin = self._first_frame_time()
                if origin is not None:
                    # A little early: demuxers with coarse timestamps (Matroska: 1 ms) may land just after.
                    target = origin + max(start_s - _SEEK_MARGIN_S, 0.0)
                    self.container.seek(int(target / self.stream.time_base), stream=self.stream)
                    try:
                        yield from self._decode(_Trimmer(round(start_s * rate), count), origin, rate, channels, stats)
                        return
                    except _Unplaced:  # decode from the top instead: slower, same samples
                        self.container.close()
                        self.container = av.open(str(self.path), metadata_errors="ignore")
                        self.stream = self.container.streams.audio[0]
            yield from self._decode(_Trimmer(round(start_s * rate), count), None, rate, channels, stats)
        except av.error.FFmpegError as exc:
            raise _Refused(_ffmpeg_reason(exc)) from None

    def _first_frame_time(self) -> float | None:
        for frame in self.container.decode(self.stream):
            return None if frame.time is None else float(frame.time)
        return None

    def _decode(self, trim: _Trimmer, origin: float | None, rate: int, channels: Channels,
                stats: DecodeStats) -> Iterator[np.ndarray]:
        """Decode, convert and trim; with an ``origin``, the first frame's timestamp places the stream."""
        convert = _Converter(self.info.channels, rate, channels)
        first = True
        for frame in self.container.decode(self.stream):
            stats.source_samples += frame.samples
            if first and origin is not None:
                if frame.time is None or round((frame.time - origin) * rate) > trim.first:
                    raise _Unplaced
                trim.position = round((frame.time - origin) * rate)
            first = False
            # In flight: the codec's frame and the chunk being gathered.
            yield from trim.feed(convert.frame(frame), stats, _frame_bytes(frame) + convert.gathered_bytes)
            if trim.done:
                return
        yield from trim.feed(convert.flush(), stats)


class _SndfileSource:
    """libsndfile through soundfile: the fallback for files FFmpeg refuses."""

    NAME = LIBSNDFILE

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        import soundfile

        try:
            self.file = soundfile.SoundFile(str(self.path))
        except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError, EOFError) as exc:
            raise _Refused(_sndfile_reason(exc, self.path)) from None
        frames, rate = self.file.frames, self.file.samplerate
        self.info = AudioInfo(int(rate), int(self.file.channels),
                              frames / rate if 0 < frames < 2**62 and rate > 0 else None,
                              str(self.file.subtype).lower(), str(self.file.format_info), LIBSNDFILE)
        return self

    def __exit__(self, *exc_info) -> None:
        self.file.close()

    def span(self, start_s: float, count: int | None, rate: int, channels: Channels,
             stats: DecodeStats) -> Iterator[np.ndarray]:
        import soundfile

        if count == 0:
            return
        source_rate = self.info.sample_rate
        trim = _Trimmer(0, count)
        convert = _Converter(self.info.channels, rate, channels)
        try:
            skip = round(start_s * source_rate)
            if skip and self.file.seekable():
                if 0 < self.file.frames <= skip:
                    return  # the span starts past the end
                self.file.seek(skip)
                skip = 0
            while True:
                block = self.file.read(CHUNK_SAMPLES, dtype="float32", always_2d=True)
                if not len(block):
                    break
                if skip:  # not seekable: read and drop up to the start
                    dropped = min(skip, len(block))
                    block, skip = block[dropped:], skip - dropped
                    if not len(block):
                        continue
                stats.source_samples += len(block)
                yield from trim.feed(convert.array(block.T, source_rate), stats, block.nbytes)
                if trim.done:
                    return
            yield from trim.feed(convert.flush(), stats)
        except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError, EOFError) as exc:
            raise _Refused(_sndfile_reason(exc, self.path)) from None


def _frame_bytes(frame) -> int:
    # From the frame's shape, not its planes (see _Converter.frame: those of 8+ planar channels are unsafe).
    return frame.samples * frame.layout.nb_channels * frame.format.bytes


def _ffmpeg_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _sndfile_reason(exc: BaseException, path: Path) -> str:
    # libsndfile's messages quote the path ("Error opening '/tmp/...': Format not recognised.").
    text = str(exc).replace(f"Error opening {str(path)!r}: ", "").replace(str(path), "the file").strip()
    return text.rstrip(".") or type(exc).__name__
