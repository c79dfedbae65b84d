"""Music analysis for both motion generators: decoding, EDGE/MACE 35-d features, beats, bars, sections.

Importing this package points numba's JIT cache at a per-user folder (see :mod:`.numba_cache`) before
librosa is imported anywhere below it, so only the first run on a machine pays for compiling.
"""

from .numba_cache import configure_numba_cache

configure_numba_cache()

from .audio import decode_audio, load_audio, probe_audio, stream_audio  # noqa: E402
from .music import EDGE_FEATURE_DIM, HOP_LENGTH, MusicFeatures, analyze_music  # noqa: E402

__all__ = [
    "EDGE_FEATURE_DIM",
    "HOP_LENGTH",
    "MusicFeatures",
    "analyze_music",
    "configure_numba_cache",
    "decode_audio",
    "load_audio",
    "probe_audio",
    "stream_audio",
]
