"""The legs dance: louder music moves the legs more, loud blocks step out and back in, planted feet hold.

Properties over several dancers (seeds) of the same music, each reported with its spread and the worst
dancer's margin, so that one machine's arithmetic cannot flip them.
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.choreography.rig import joint_limit_violations
from backend.choreography.synthesis import PULSE_STEP_OUT

from .test_choreographer import MAX_PLANTED_SLIDE

LEGS = [4, 5, 7, 8, 10, 11]  # knees, ankles, feet


def _leg_speed(motion) -> float:
    joints = motion.joint_positions()
    return float((np.linalg.norm(np.diff(joints[:, LEGS], axis=0), axis=-1) * motion.fps).mean())


# slow: the shared fixture dances twelve whole choreographies (six dancers, quiet and loud), ~5 s on 2 cores
@pytest.mark.slow
def test_louder_music_dances_the_legs_more(loud_and_quiet_dances):
    ratios = np.array([_leg_speed(loud) / _leg_speed(quiet) for quiet, loud in loud_and_quiet_dances.values()])
    print(f"loud / quiet leg speed over {len(ratios)} seeds: mean {ratios.mean():.2f} ± {ratios.std():.2f}, "
          f"worst {ratios.min():.2f} (bound 1.0)")
    assert (ratios > 1.0).mean() >= 5 / 6  # (all six at the time of writing, worst 1.10)
    assert ratios.mean() > 1.3  # (1.9 at the time of writing)


# slow: shares the twelve dances above
@pytest.mark.slow
def test_loud_dances_step_out_and_keep_planted_feet_and_joints_in_range(loud_and_quiet_dances):
    """The loud dance widens its stance by a real step at least once (a groove side step or a move's step),
    and on every dance, quiet or loud, planted ankles stay put and every joint stays within its limits.
    (Toes are checked on the other choreography tests' dances; at the deepest loud bounce a crossing step
    such as the grapevine can ask an ankle for more than its limit, and the rig's ankle clamp then swivels
    the toe a few mm a frame — seen before these changes too.)"""
    widen = []
    for quiet, loud in loud_and_quiet_dances.values():
        width = loud.joint_positions()[:, 7, 0] - loud.joint_positions()[:, 8, 0]  # left ankle x - right ankle x, the dancer faces +z at first
        widen.append(float(width.max() - width[0]))
        for motion in (quiet, loud):
            joints = motion.joint_positions()
            for channel, ankle in ((0, 7), (1, 8)):
                both = (motion.contacts[1:, channel] > 0.5) & (motion.contacts[:-1, channel] > 0.5)
                slide = np.linalg.norm(np.diff(joints[:, ankle][:, [0, 2]], axis=0), axis=-1)[both]
                assert slide.size == 0 or slide.max() < MAX_PLANTED_SLIDE, (ankle, slide.max())
            assert joint_limit_violations(motion.poses) == {}
    widen = np.array(widen)
    bound = 0.4 * PULSE_STEP_OUT
    print(f"stance widening on loud music: mean {widen.mean():.2f} ± {widen.std():.2f} m, worst {widen.min():.2f} "
          f"(bound {bound:.2f})")
    assert (widen > bound).mean() >= 4 / 6  # (all six at the time of writing)
