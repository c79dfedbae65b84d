"""Which music files the product accepts: the one list the backend's decoder, the CLI and the add-on quote.

Pure knowledge (no decoding here, so the add-on can import it inside Blender): the backend decides what a
file is by its content (``backend.features.audio``); these names only serve file pickers, folder scans and
messages.
"""

from __future__ import annotations

#: File name endings of music files the decoder reads, most common first.
AUDIO_SUFFIXES: tuple[str, ...] = (
    ".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm", ".mka", ".aif", ".aiff",
)
#: Videos whose sound track the decoder reads. Folder scans that pair music with motions by name leave these
#: out (a rendered ``dance.mp4`` beside ``dance.npz`` is not its music).
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".mkv")
#: Everything a user may pick as music.
ACCEPTED_SUFFIXES: tuple[str, ...] = AUDIO_SUFFIXES + VIDEO_SUFFIXES

#: The same, for people: what a message or a tooltip says.
AUDIO_FORMATS_TEXT = (
    "WAV, MP3, FLAC, OGG/OGA (Vorbis, Opus, FLAC), Opus, M4A/AAC/ALAC, WebM, MKA, AIFF, "
    "or the sound of an MP4/MOV/MKV video"
)

#: The fix for a file no decoder reads.
CONVERT_HINT = "convert it to a common format first, e.g. `ffmpeg -i INPUT music.flac`"


def is_music_file_name(name: str) -> bool:
    """True when ``name`` ends like a music file (not a video; case-insensitive): for folder scans."""
    return name.lower().endswith(AUDIO_SUFFIXES)
