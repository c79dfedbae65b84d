"""Running out of memory, recognised in one place and turned into :class:`shared.errors.OutOfMemoryError`;
and giving freed memory back (:func:`return_free_memory`).

What counts: Python's ``MemoryError`` (host memory), ``torch.OutOfMemoryError`` (``torch.cuda.OutOfMemoryError``
is the same class; torch raises it for CUDA and other accelerators), and allocator ``RuntimeError`` s whose
message says "out of memory" (MPS, and kernels that report the CUDA error as a plain RuntimeError).
The Motion Expert and Wan-Animate wrap their work in :func:`out_of_memory_as` with a hint naming the option
that helps; the server's worker uses :func:`is_out_of_memory` for anything that still escapes a job.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from shared.errors import MaceError, OutOfMemoryError


def is_out_of_memory(exc: BaseException) -> bool:
    """True when ``exc`` means the host or the accelerator ran out of memory."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")  # an error can only be torch's if torch was imported
    torch_oom = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if torch_oom is not None and isinstance(exc, torch_oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


@contextmanager
def out_of_memory_as(message: str, hint: str) -> Iterator[None]:
    """Inside the block, running out of memory raises ``OutOfMemoryError(message, hint)`` (chained to the
    original); our own errors and every other exception pass through unchanged."""
    try:
        yield
    except MaceError:
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            raise OutOfMemoryError(message, hint) from exc
        raise


def return_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; nothing elsewhere).

    Freed buffers of a burst of large requests stay in the allocator's arenas, and the process keeps their
    size, until trimmed: the server calls this when a job or an admission ends.
    """
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes
        import ctypes.util

        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): its allocator returns memory itself
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None
