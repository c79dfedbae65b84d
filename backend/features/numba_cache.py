"""Keep numba's JIT cache in a per-user cache folder so only the first run pays for compiling librosa.

librosa's hot loops are numba functions declared with ``cache=True``. Without a writable cache folder
numba recompiles them in every process (about 40 s on two cores); with one the second run loads them in
well under a second. numba reads ``NUMBA_CACHE_DIR`` when it is imported, so this runs before anything
imports librosa: ``backend.features`` calls it once, on import, and librosa is imported only inside that
package. A folder set by the user wins.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_ENV = "NUMBA_CACHE_DIR"


def default_numba_cache_dir() -> Path:
    """``<backend cache dir>/numba`` (e.g. ``~/.cache/mace-dance/numba`` on Linux; ``$MACE_DANCE_CACHE`` moves it)."""
    from backend.config import BackendConfig

    return BackendConfig().cache_dir / "numba"


def configure_numba_cache() -> Path | None:
    """Point numba's cache at a writable per-user folder unless ``NUMBA_CACHE_DIR`` is already set.

    Returns the folder in use, or None when no writable folder could be made (numba then falls back to
    its own rules and simply recompiles).
    """
    chosen = os.environ.get(_ENV) or str(default_numba_cache_dir())
    try:
        Path(chosen).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    os.environ.setdefault(_ENV, chosen)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None and not getattr(numba_config, "CACHE_DIR", ""):
        # numba was imported before us: its config already read the environment, so tell it directly.
        numba_config.CACHE_DIR = os.environ[_ENV]
    return Path(os.environ[_ENV])
