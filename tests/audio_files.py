"""Music files in every format the decoder accepts, written by FFmpeg (PyAV) in the tests themselves.

Also two files built on purpose: an Ogg Vorbis file that FFmpeg refuses and libsndfile reads, and an hour of
tone as FLAC (small on disk, huge decoded) for the memory bound of a short span.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BPM = 120


@dataclass(frozen=True)
class Case:
    """One accepted format: file name, FFmpeg muxer, audio encoder, its rate; ``video`` adds an H.264 track."""

    name: str
    muxer: str
    codec: str
    rate: int = 44100
    video: bool = False


CASES = (
    Case("song.wav", "wav", "pcm_s16le"),
    Case("song.flac", "flac", "flac"),
    Case("song.mp3", "mp3", "libmp3lame"),
    Case("song_vorbis.ogg", "ogg", "vorbis"),
    Case("song_opus.ogg", "ogg", "libopus", 48000),
    Case("song_flac.ogg", "ogg", "flac"),
    Case("song.oga", "ogg", "vorbis"),
    Case("song.opus", "opus", "libopus", 48000),
    Case("song_aac.m4a", "ipod", "aac"),
    Case("song_alac.m4a", "ipod", "alac"),
    Case("song.aac", "adts", "aac"),
    Case("song.webm", "webm", "libopus", 48000),
    Case("song.mka", "matroska", "flac"),
    Case("song.aiff", "aiff", "pcm_s16be"),
    Case("clip.mp4", "mp4", "aac", video=True),
    Case("clip.mov", "mov", "aac", video=True),
    Case("clip.mkv", "matroska", "libopus", 48000, video=True),
)


def click_music(seconds: float, rate: int) -> np.ndarray:
    """(2, N) float32: a 220 Hz tone with a click on every beat at ``BPM``; the right channel a bit softer."""
    t = np.arange(int(seconds * rate)) / rate
    beat = np.mod(t, 60.0 / BPM)
    mono = 0.15 * np.sin(2 * np.pi * 220 * t) + 0.6 * np.sin(2 * np.pi * 1500 * t) * np.exp(-beat * 60)
    return np.stack([mono, 0.8 * mono]).astype(np.float32)


def write_audio(path: Path, case: Case, seconds: float = 4.0, samples: np.ndarray | None = None) -> Path:
    """Encode ``samples`` ((2, N) at ``case.rate``; default :func:`click_music`) as ``case`` says."""
    samples = click_music(seconds, case.rate) if samples is None else samples
    with av.open(str(path), mode="w", format=case.muxer) as container:
        audio = container.add_stream(case.codec, rate=case.rate)
        audio.layout = "stereo"
        if case.codec == "vorbis":  # FFmpeg's own Vorbis encoder (the wheel has no libvorbis)
            audio.codec_context.options = {"strict": "experimental"}
        video = None
        if case.video:
            video = container.add_stream("libx264", rate=10)
            video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        step = 4096
        for start in range(0, samples.shape[1], step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start : start + step]),
                                               format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = case.rate, start, Fraction(1, case.rate)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
        if video is not None:
            for index in range(int(samples.shape[1] / case.rate * 10)):
                image = np.full((64, 64, 3), (index * 7) % 256, np.uint8)
                picture = av.VideoFrame.from_ndarray(image, format="rgb24")
                picture.pts = index
                for packet in video.encode(picture):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
    return path


def write_every_format(folder: Path, seconds: float) -> list[Path]:
    """:func:`write_audio` of every case, and a :func:`write_vorbis_ffmpeg_refuses` file, into ``folder``."""
    paths = [write_audio(folder / case.name, case, seconds) for case in CASES]
    rate = 44100
    paths.append(write_vorbis_ffmpeg_refuses(folder / "ffmpeg_refuses.ogg", click_music(seconds, rate), rate))
    return paths


#: The names :func:`write_every_format` writes.
EVERY_FORMAT = [case.name for case in CASES] + ["ffmpeg_refuses.ogg"]


def write_long_tone_flac(path: Path, seconds: float = 3600.0, rate: int = 8000) -> Path:
    """An hour (by default) of a quiet 440 Hz tone, mono FLAC: well under a megabyte on disk."""
    period = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32) * 0.25  # one second, exact
    with av.open(str(path), mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate)
        stream.layout = "mono"
        for second in range(int(seconds)):
            frame = av.AudioFrame.from_ndarray(period[None], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, second * rate, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# --- An Ogg Vorbis file FFmpeg refuses -------------------------------------------------------------------
#
# FFmpeg's Ogg demuxer hands the Vorbis setup header to its Vorbis parser, which reads the mode table
# backwards from the last set bit of the packet (libavcodec/vorbis_parser.c). libvorbis reads the header
# forwards and stops at its framing bit. A setup packet with padding after the framing bit therefore opens
# in libvorbis (and libsndfile, which uses it) and fails in FFmpeg ("Unknown error occurred" on open). The
# real files in ../shared/data/music decode in both, so the tests build such a file: libsndfile writes a
# normal Ogg Vorbis file, and the setup packet gets one byte of padding, with the pages rebuilt (lacing and
# CRC) so that the Ogg layer is valid.


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte << 24
        for _ in range(8):
            value = ((value << 1) ^ 0x04C11DB7) if value & 0x80000000 else value << 1
        table.append(value & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def _header_pages(data: bytes) -> tuple[list[dict], int]:
    """The Ogg pages up to the one holding the Vorbis setup header, and the byte offset after it."""
    pages, offset = [], 0
    while not any(p[:7] == b"\x05vorbis" for page in pages for p in page["packets"]):
        assert data[offset : offset + 4] == b"OggS", f"no Ogg page at byte {offset}"
        _, flags, granule, serial, sequence, _, count = struct.unpack_from("<BBqIIIB", data, offset + 4)
        lacing = data[offset + 27 : offset + 27 + count]
        body = data[offset + 27 + count : offset + 27 + count + sum(lacing)]
        packets, start, current = [], 0, b""
        for size in lacing:  # a lacing value below 255 ends a packet
            current += body[start : start + size]
            start += size
            if size < 255:
                packets.append(current)
                current = b""
        assert not current, "a header packet continues on the next page; not needed for these small files"
        pages.append(dict(flags=flags, granule=granule, serial=serial, sequence=sequence, packets=packets))
        offset += 27 + count + sum(lacing)
    return pages, offset


def _write_page(page: dict) -> bytes:
    lacing = b"".join(bytes([255] * (len(p) // 255) + [len(p) % 255]) for p in page["packets"])
    header = b"OggS" + struct.pack("<BBqIIIB", 0, page["flags"], page["granule"], page["serial"],
                                   page["sequence"], 0, len(lacing))
    body = header + lacing + b"".join(page["packets"])
    return body[:22] + struct.pack("<I", _ogg_crc(body)) + body[26:]


def write_vorbis_ffmpeg_refuses(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Ogg Vorbis ``samples`` ((2, N)) whose setup header has padding after its framing bit (see above)."""
    import soundfile

    soundfile.write(str(path), samples.T, rate, format="OGG", subtype="VORBIS")
    data = path.read_bytes()
    pages, audio_start = _header_pages(data)
    pages[-1]["packets"] = [p + b"\xff" if p[:7] == b"\x05vorbis" else p for p in pages[-1]["packets"]]
    path.write_bytes(b"".join(_write_page(page) for page in pages) + data[audio_start:])
    return path


def write_lying_flac(path: Path, seconds: float, announced_samples: int, rate: int = 8000) -> Path:
    """A FLAC of ``seconds`` of tone whose STREAMINFO announces ``announced_samples`` (0: no length at all)."""
    write_long_tone_flac(path, seconds, rate)
    data = bytearray(path.read_bytes())
    # "fLaC", a 4-byte block header, then STREAMINFO: 10 bytes of block/frame sizes, and 64 bits holding
    # 20 bits of rate, 3 of channels, 5 of bits per sample and 36 of total samples.
    head = int.from_bytes(data[18:26], "big")
    head = (head & ~((1 << 36) - 1)) | announced_samples
    data[18:26] = head.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path
