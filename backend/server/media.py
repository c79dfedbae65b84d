"""Cheap checks of the media a request carries, done before a job is queued.

Only headers are read here (this runs on the server's I/O thread); full decoding happens in the job.
"""

from __future__ import annotations

import io
from pathlib import Path

from shared.errors import InvalidInputError, TooLargeError

IMAGE_HINT = "send a PNG, JPEG or WebP image"


def probe_audio_duration(path: Path, name: str) -> float:
    """Seconds of audio in ``path`` (the client calls it ``name``); raises ``InvalidInputError`` when no decoder
    reads it. The format is found from the content (``backend.features.audio``), so a missing or wrong
    ``audio_name`` does not matter; messages name the client's file, never this machine's path."""
    from backend.features.audio import probe_audio, stream_audio

    info = probe_audio(path, name)
    duration = info.duration_s
    if duration is None:  # headers without a length (rare): count it; the upload's size bounds the work
        duration = sum(chunk.shape[1] for chunk in stream_audio(path, channels="mono", name=name)) / info.sample_rate
    if not duration > 0:
        raise InvalidInputError(f"audio {name!r} holds no samples", "send a music file with sound in it")
    return duration


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
