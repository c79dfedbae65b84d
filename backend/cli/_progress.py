"""A terminal progress bar behind a JobContext, for commands that run long work."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from ..progress import JobContext


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool | None = None) -> Iterator[JobContext]:
    """Yield a JobContext whose reports drive a tqdm bar (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    enabled = sys.stderr.isatty() if enabled is None else enabled
    bar = tqdm(total=100, desc=description, unit="%", disable=not enabled, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def report(fraction: float, message: str = "") -> None:
        bar.n = round(fraction * 100, 1)
        if message:
            bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    try:
        yield JobContext(report=report)
    finally:
        bar.close()
