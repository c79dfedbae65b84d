"""Properties of a random process checked over many seeds, so no machine's arithmetic can flip them.

One seed's draw against a tight bound fails on the machine whose float rounding (or sort algorithm, or
library release) moves that one draw across the line. A property over many seeds holds there too: most
seeds clear the bound (a rate), and their mean clears it by more than its own uncertainty. Both print the
margin (the worst seed against the bound) so a shrinking margin shows up in the log before it fails.
"""

from __future__ import annotations

import numpy as np


def assert_over_seeds(values, bound: float, *, label: str, rate: float = 0.75, mean_bound: float | None = None,
                      above: bool = True, of: str = "seeds") -> None:  # fmt: skip
    """Assert that ``values`` (one per seed) clear ``bound``: at least ``rate`` of the seeds do, and their mean
    minus two standard errors clears ``mean_bound`` (default ``bound``). ``above=False`` flips the side; ``of``
    names what the values are one per (seeds, pairs of seeds ...) in the messages."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    assert n >= 8, f"{label}: a property over seeds needs at least 8 values, got {n}"
    sign = 1.0 if above else -1.0
    mean_bound = bound if mean_bound is None else mean_bound
    mean, spread = float(values.mean()), float(values.std(ddof=1))
    sem = spread / np.sqrt(n)
    worst = float(values.min() if above else values.max())
    clear = float(np.mean(sign * (values - bound) > 0))
    side = ">" if above else "<"
    print(
        f"{label}: mean {mean:.3g} ± {spread:.2g} (sd) over {n} {of}; worst {worst:.3g} vs bound {side} {bound:g} "
        f"(margin {sign * (worst - bound):+.3g}); {clear:.0%} of them clear it"
    )
    shown = np.round(values, 3)
    assert clear >= rate, f"{label}: only {clear:.0%} of {n} {of} {side} {bound:g} (want {rate:.0%}): {shown}"
    assert sign * (mean - sign * 2.0 * sem - mean_bound) > 0, (
        f"{label}: mean {mean:.3g} ± {2 * sem:.2g} (2 s.e.) does not clear {side} {mean_bound:g}: {shown}"
    )
