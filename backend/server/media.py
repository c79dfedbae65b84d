"""Checks of the media a request carries, done before a job is queued, in child processes.

An uploaded file is untrusted: its headers may lie about its length, and a decoder is native code a crafted
file may crash, hang or make allocate without bound. So admission decodes it in a child process of a small
pool (:class:`MediaChecker`), under an address-space limit and a time limit, and counts what it holds while
decoding (``backend.features.audio.measure_audio``); a crash, hang or memory bomb costs the request one
error reply and the pool one fresh process, never the backend. This runs on the admission worker, never on
the server's I/O thread.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from shared.errors import InvalidInputError, MaceError, TooLargeError, error_from_dict

logger = logging.getLogger(__name__)

#: What a decoder in a child process may map at most (address space, not resident memory).
CHILD_MEMORY_LIMIT_BYTES = 3 << 30
#: How long one file may take to check.
CHECK_TIMEOUT_S = 60.0
#: Checks a child process makes before it is replaced.
CHECKS_PER_CHILD = 64


def _limit_child_memory(limit_bytes: int) -> None:
    """Pool initializer: cap the child's address space, so an allocation bomb fails there as MemoryError."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def _in_child(function, path: str, *args) -> tuple:
    """Run ``function(path, *args, name)`` in the child and return ("ok", value) or ("error", error dict):
    errors travel as data (code, message and hint, with ``path`` shown as the client's ``name``), never as
    pickled exception objects."""
    try:
        return "ok", function(path, *args)
    except MaceError as err:
        error = err.to_dict()
        return "error", {key: value.replace(path, args[-1]) for key, value in error.items()}
    except MemoryError:
        return "error", TooLargeError(f"decoding {args[-1]} needed more than {CHILD_MEMORY_LIMIT_BYTES >> 30} GiB "
                                      f"of memory", "send a smaller or simpler file").to_dict()


def _audio_duration(path: str, max_seconds: float, name: str) -> float:
    from backend.features.audio import measure_audio

    return measure_audio(path, max_seconds, name).duration_s


def _image_size(path: str, max_pixels: int, name: str) -> tuple[int, int]:
    from backend.appearance.reference import load_reference_image, probe_reference_image

    probe_reference_image(path, max_pixels, name)  # format and size from the header, named for the client
    height, width = load_reference_image(path, max_pixels).rgb.shape[:2]  # then every pixel, as the job will
    return width, height


def _warm() -> None:
    import backend.appearance.reference  # noqa: F401 - imported for its import time
    import backend.features.audio  # noqa: F401


class MediaChecker:
    """Decodes uploaded media in ``workers`` child processes, each under ``memory_limit_bytes``.

    Thread-safe: the admission workers call it at once. A child that dies (a native crash) or overruns
    ``timeout_s`` is killed and the pool restarted; the file is refused as undecodable.
    """

    def __init__(self, workers: int = 1, *, memory_limit_bytes: int = CHILD_MEMORY_LIMIT_BYTES,
                 timeout_s: float = CHECK_TIMEOUT_S):
        self.workers, self.memory_limit_bytes, self.timeout_s = workers, memory_limit_bytes, timeout_s
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._uses = 0

    def audio_duration(self, path: Path, name: str, max_seconds: float) -> float:
        """Seconds of audio in ``path``, counted while decoding (refused past ``max_seconds``)."""
        return self._run(_audio_duration, str(path), float(max_seconds), name)

    def image_size(self, path: Path, max_pixels: int, name: str = "the reference image") -> tuple[int, int]:
        """(width, height) of an image the reference loader reads (decoded in full, upright)."""
        return tuple(self._run(_image_size, str(path), int(max_pixels), name))

    def warm(self) -> None:
        """Start the children and their decoders now (in the background), so the first check is quick."""
        self._submit(_warm)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, function, *args):
        name = args[-1]
        for attempt in (1, 2):
            pool, future = self._submit(_in_child, function, *args)
            try:
                status, value = future.result(self.timeout_s)
                break
            except (BrokenProcessPool, concurrent.futures.CancelledError):
                # Its child died: this file, or another one checked beside it. A second try, in a fresh
                # child, tells which.
                self._restart(pool)
                if attempt == 2:
                    raise InvalidInputError(f"{name} crashed the decoder (it is damaged or crafted)",
                                            "send the file re-encoded by a common program") from None
            except concurrent.futures.TimeoutError:
                self._restart(pool)
                raise TooLargeError(f"{name} took longer than {self.timeout_s:g} s to decode",
                                    "send a shorter or re-encoded file") from None
        self._retire_after_use(pool)
        if status == "error":
            raise error_from_dict(value)
        return value

    def _submit(self, *call) -> tuple[concurrent.futures.ProcessPoolExecutor, concurrent.futures.Future]:
        """Submit to the current pool (started when there is none), under the lock that retires pools."""
        with self._lock:
            if self._pool is None:
                # spawn: a fork of the server would copy its sockets and threads.
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_limit_child_memory, initargs=(self.memory_limit_bytes,))
                self._uses = 0
            return self._pool, self._pool.submit(*call)

    def _retire_after_use(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        """After ``CHECKS_PER_CHILD`` checks the children are replaced (those at work finish first), so what
        a decoder's allocator keeps goes back to the system."""
        with self._lock:
            if self._pool is not pool:
                return
            self._uses += 1
            if self._uses < CHECKS_PER_CHILD:
                return
            self._pool = None
        pool.shutdown(wait=False)

    def _restart(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        """Kill ``pool``'s children (one is hung or dead) and start afresh on the next check."""
        logger.warning("a media check crashed or hung; restarting the decoder processes")
        with self._lock:
            if self._pool is pool:
                self._pool = None
        for process in list((getattr(pool, "_processes", None) or {}).values()):  # the executor offers no kill
            process.kill()
        pool.shutdown(wait=False)


_checker: MediaChecker | None = None
_checker_lock = threading.Lock()


def media_checker() -> MediaChecker:
    """This process's one :class:`MediaChecker` (its children start with the first check)."""
    global _checker
    with _checker_lock:
        if _checker is None:
            _checker = MediaChecker()
        return _checker
