"""Keep numba's JIT cache in a per-user cache folder so only the first run pays for compiling librosa,
safely when several processes compile at once.

librosa's hot loops are numba functions declared with ``cache=True``. Without a writable cache folder
numba recompiles them in every process (about 40 s on two cores); with one the second run loads them in
well under a second. numba reads ``NUMBA_CACHE_DIR`` when it is imported, so this runs before anything
imports librosa: ``backend.features`` calls it once, on import, and librosa is imported only inside that
package. A folder set by the user wins (and is used as it is).

numba's cache is not safe for concurrent writers: each process numbers the compiled variants of a function
in its own index, so two processes compiling different variants at once can leave an index that points at
the other's machine code, which then crashes (a segfault in the beat tracker). So no two processes write
into one folder here:

* ``<cache>/numba/snapshots/<name>/`` are complete caches, each written by one process, never changed after;
  ``<cache>/numba/current`` names the newest (replaced atomically).
* Each process works in its own ``<cache>/numba/work/<pid>-<token>/``, filled with hard links to the
  current snapshot (numba replaces files, never rewrites them, so the snapshot stays intact).
* A process that compiled something publishes its folder as a new snapshot (linked, renamed into place,
  then ``current`` switched): after each music analysis (:func:`share_compiled`, so processes started
  meanwhile need not compile again) and at exit. A new snapshot is the current one with this process's own
  compiles laid over it, function by function (a function's index with all its variants' files, as one
  unit), so what other processes published meanwhile is kept (a process that never analyses music does not
  drop librosa's compiles); only where two processes compiled the same function does the last to publish
  win for that function, whole. Old snapshots and the folders of dead processes are removed.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sys
import threading
import time
from pathlib import Path

_ENV = "NUMBA_CACHE_DIR"
#: The work folder this module chose, so a child process (which inherits ``NUMBA_CACHE_DIR``) can tell
#: its parent's choice from the user's and take a folder of its own.
_WORK_ENV = "MACE_DANCE_NUMBA_WORK"
#: Snapshots other than the current one are removed once they are this old (a reader links from the one
#: it found within milliseconds), seconds.
_STALE_SNAPSHOT_S = 600.0


class _Work:
    """This process's folder, what it held when filled and when last published."""

    base: Path | None = None
    folder: Path | None = None
    pid = -1
    filled: dict[str, tuple[int, int]] = {}
    published: dict[str, tuple[int, int]] = {}


def default_numba_cache_dir() -> Path:
    """``<backend cache dir>/numba`` (e.g. ``~/.cache/mace-dance/numba`` on Linux; ``$MACE_DANCE_CACHE`` moves it)."""
    from backend.config import BackendConfig

    return BackendConfig().cache_dir / "numba"


def configure_numba_cache() -> Path | None:
    """Point numba's cache at this process's own folder, filled from the newest snapshot under the per-user
    folder, unless the user set ``NUMBA_CACHE_DIR`` (then that folder is used as it is).

    Returns the folder numba will use, or None when no writable folder could be made (numba then falls back
    to its own rules and simply recompiles).
    """
    given = os.environ.get(_ENV)
    if given and given != os.environ.get(_WORK_ENV):
        return _use(Path(given))
    base = default_numba_cache_dir()
    try:
        work = _work_folder(base)
    except OSError:
        return None
    os.environ[_WORK_ENV] = str(work)
    os.environ[_ENV] = str(work)
    _Work.base, _Work.folder, _Work.pid = base, work, os.getpid()
    _Work.filled = _Work.published = _listing(work)
    atexit.register(_at_exit)
    return _use(work)


_IMPORT_LOCK = threading.Lock()


def import_librosa():
    """``librosa``, its beat tracker loaded from numba's cache like its other kernels.

    librosa 0.11 declares one beat-tracker kernel (``librosa.beat.__beat_local_score``, a ``guvectorize`` with
    explicit signatures, so compiled when ``librosa.beat`` is imported) with ``cache=False``, unlike all its
    others: every process compiled it again, ~2 s on two idle cores before any music was analysed. While
    ``librosa.beat`` is imported here, ``numba.guvectorize`` caches what it compiles (the kernel is a pure
    nopython loop; caching changes where the machine code comes from, not what it computes).
    """
    import librosa

    with _IMPORT_LOCK:
        if "librosa.beat" not in sys.modules:
            import numba

            declared = numba.guvectorize

            def cached(*args, **kwargs):
                return declared(*args, **{**kwargs, "cache": True})

            numba.guvectorize = cached
            try:
                import librosa.beat  # noqa: F401  (librosa's lazy loader then hands out this module)
            finally:
                numba.guvectorize = declared
    return librosa


def share_compiled() -> None:
    """Publish what this process compiled since it last did, so other processes load it from disk."""
    if _Work.folder is None or os.getpid() != _Work.pid:  # not ours, or a forked child: the parent owns it
        return
    try:
        listing = _listing(_Work.folder)
        if listing != _Work.published:
            _publish(_Work.base, _Work.folder, [path for path, key in listing.items() if _Work.filled.get(path) != key])
            _Work.published = listing
    except OSError:
        pass  # a cache: the next run compiles again


def _at_exit() -> None:
    if _Work.folder is None or os.getpid() != _Work.pid:
        return
    try:
        share_compiled()
        _tidy(_Work.base)
    except OSError:
        pass
    finally:
        shutil.rmtree(_Work.folder, ignore_errors=True)


def _use(folder: Path) -> Path | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    os.environ[_ENV] = str(folder)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:
        # numba was imported before us: its config already read the environment, so tell it directly.
        numba_config.CACHE_DIR = str(folder)
    return folder


def _work_folder(base: Path) -> Path:
    """A new folder for this process, holding hard links to the current snapshot's files."""
    work = base / "work" / f"{os.getpid()}-{secrets.token_hex(4)}"
    work.mkdir(parents=True)
    snapshot = _current_snapshot(base)
    if snapshot is not None:
        try:
            _link_tree(snapshot, work)
        except OSError:  # the snapshot went away meanwhile: start empty, numba compiles
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
    return work


def _current_snapshot(base: Path) -> Path | None:
    try:
        name = (base / "current").read_text().strip()
    except OSError:
        return None
    snapshot = base / "snapshots" / name
    return snapshot if name and snapshot.is_dir() else None


def _link_tree(source: Path, target: Path) -> None:
    for folder, _, files in os.walk(source):
        into = target / Path(folder).relative_to(source)
        into.mkdir(parents=True, exist_ok=True)
        for name in files:
            _link_file(Path(folder) / name, into / name)


def _link_file(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)  # another file system: copy


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (inode, size)}``: numba replaces a file it rewrites, so its inode changes."""
    listing = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            listing[str(path.relative_to(folder))] = (stat.st_ino, stat.st_size)
    return listing


def _publish(base: Path, work: Path, compiled: list[str]) -> None:
    """Make a new snapshot the current one: the current snapshot (what other processes published, which
    may be newer than what ``work`` was filled from) with the ``compiled`` files of ``work`` (relative paths,
    this process's own compiles) laid over it, all as hard links."""
    snapshots = base / "snapshots"
    name = f"{time.time_ns()}-{os.getpid()}"
    staging = snapshots / f".{name}"
    staging.mkdir(parents=True)
    current = _current_snapshot(base)
    if current is not None:
        try:
            _link_tree(current, staging)
        except OSError:  # removed meanwhile (stale): publish what this process holds
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            compiled = [str(path.relative_to(work)) for path in work.rglob("*") if path.is_file()]
    # A function's cache is one unit: its index (``<f>.nbi``) numbers its variants' files (``<f>.<n>.nbc``) in
    # the order this process met them, so the index is laid over only together with all its files, and the
    # snapshot's files of that function are dropped first (else an index could point at another process's
    # machine code for a different signature).
    functions = {_function_of(Path(relative)) for relative in compiled}
    for folder, ours in ((staging, False), (work, True)):
        for path in list(folder.rglob("*")):
            if path.is_file() and _function_of(path.relative_to(folder)) in functions:
                relative = path.relative_to(folder)
                if ours:
                    (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                    _link_file(path, staging / relative)
                else:
                    path.unlink()
    staging.rename(snapshots / name)
    pointer = base / f".current-{name}"
    pointer.write_text(name + "\n")
    os.replace(pointer, base / "current")


def _function_of(relative: Path) -> Path:
    """The function a cache file belongs to: ``<f>`` for numba's ``<f>.nbi`` and ``<f>.<n>.nbc``."""
    name = relative.name
    if name.endswith(".nbc"):
        name = name[: -len(".nbc")].rsplit(".", 1)[0]
    elif name.endswith(".nbi"):
        name = name[: -len(".nbi")]
    return relative.with_name(name)


def _tidy(base: Path) -> None:
    """Remove snapshots other than the current one once stale, and work folders of processes that are gone."""
    current = _current_snapshot(base)
    now = time.time()
    for snapshot in (base / "snapshots").glob("*"):
        if snapshot != current and now - snapshot.stat().st_mtime > _STALE_SNAPSHOT_S:
            shutil.rmtree(snapshot, ignore_errors=True)
    for work in (base / "work").glob("*"):
        pid = int(work.name.split("-")[0]) if work.name.split("-")[0].isdigit() else -1
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(work, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
