"""Progress reporting and cancellation for long-running work.

Every long function takes ``ctx: JobContext | None``. It calls ``ctx.report(fraction, message)`` at least
once per step and ``ctx.check_cancelled()`` between steps. The server wires ``report`` to protocol
``progress`` events and ``is_cancelled`` to the job's cancel flag; the CLI wires ``report`` to a progress
bar; direct callers pass nothing.
"""

from __future__ import annotations

from typing import Callable

from shared.errors import JobCancelledError

ReportFn = Callable[[float, str], None]


class JobContext:
    """Where a job reports progress and learns it was cancelled."""

    def __init__(self, report: ReportFn | None = None, is_cancelled: Callable[[], bool] | None = None):
        self._report = report
        self._is_cancelled = is_cancelled

    @classmethod
    def null(cls) -> "JobContext":
        """A context that reports nowhere and is never cancelled."""
        return cls()

    def report(self, fraction: float, message: str = "") -> None:
        """Tell the listener that ``fraction`` (clamped to [0, 1]) of the job is done."""
        if self._report is not None:
            self._report(min(1.0, max(0.0, float(fraction))), message)

    @property
    def cancelled(self) -> bool:
        return bool(self._is_cancelled and self._is_cancelled())

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelledError` if the job was cancelled."""
        if self.cancelled:
            raise JobCancelledError("the job was cancelled")

    def subrange(self, lo: float, hi: float) -> "JobContext":
        """A child context whose [0, 1] maps onto [lo, hi] of this one (same cancel flag)."""
        return JobContext(
            report=lambda fraction, message="": self.report(lo + (hi - lo) * fraction, message),
            is_cancelled=self._is_cancelled,
        )


def ensure_context(ctx: JobContext | None) -> JobContext:
    return ctx if ctx is not None else JobContext.null()
