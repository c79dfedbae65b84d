"""Cheap checks of the media a request carries, done before a job is queued.

Only headers are read here (this runs on the server's I/O thread); full decoding happens in the job.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from shared.errors import InvalidInputError, TooLargeError

AUDIO_HINT = "send a WAV, FLAC, OGG/Vorbis or MP3 file"
IMAGE_HINT = "send a PNG, JPEG or WebP image"


@dataclass(frozen=True)
class AudioProbe:
    """What a music file's header says: its length and the file name ending of the format found in it."""

    duration_s: float
    suffix: str


# libsndfile's major format names -> the ending the decoder expects.
_SNDFILE_SUFFIXES = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3",
                     "AIFF": ".aiff", "RF64": ".wav", "W64": ".wav", "CAF": ".caf"}


def probe_audio(path: Path, name: str) -> AudioProbe:
    """Length and format of the music in ``path``, told by its content (the client's name for it may have no or
    a wrong ending); raises ``InvalidInputError`` calling the file ``name`` (never ``path``) when it does not
    decode.

    libsndfile (soundfile) reads the header of WAV/FLAC/OGG/MP3; other containers go through FFmpeg (PyAV).
    """
    import soundfile

    try:
        info = soundfile.info(str(path))
        if info.samplerate > 0 and info.frames > 0:
            return AudioProbe(info.frames / info.samplerate, _SNDFILE_SUFFIXES.get(info.format, path.suffix))
    except Exception:  # noqa: BLE001 - libsndfile refuses the format; FFmpeg may still read it
        pass
    try:
        import av

        with av.open(str(path), metadata_errors="ignore") as container:
            streams = container.streams.audio
            if not streams:
                raise InvalidInputError(f"{name} has no audio stream", AUDIO_HINT)
            stream = streams[0]
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000  # av.time_base
            else:
                duration = 0.0
            suffix = "." + container.format.name.split(",")[0]
    except InvalidInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - FFmpeg errors come in many classes
        # Name the client's file, not our temporary copy.
        reason = str(exc).replace(str(path), name) or type(exc).__name__
        raise InvalidInputError(f"{name} could not be decoded ({reason})", AUDIO_HINT) from None
    if not duration > 0:
        raise InvalidInputError(f"{name} holds no samples", AUDIO_HINT)
    return AudioProbe(duration, suffix)


def check_image_header(data: bytes, max_pixels: int) -> tuple[int, int]:
    """(width, height) of an encoded image, read from its header; refuses non-images and huge images."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception as exc:  # noqa: BLE001 - PIL raises UnidentifiedImageError, OSError, SyntaxError …
        raise InvalidInputError(f"reference image could not be read ({exc})", IMAGE_HINT) from None
    if width * height > max_pixels:
        raise TooLargeError(f"reference image is {width}x{height} pixels, above {max_pixels:,}",
                            "scale the reference image down")
    return width, height
