"""The embedded default choreographer: dance moves authored in code, planned on the music's beats,
bars, loudness and sections, and posed on the SMPL skeleton with foot-planting leg IK.

See docs/choreography.md for how moves are authored and how planning works.
"""

from .choreographer import ChoreographerGenerator, choreograph
from .moves import FAMILIES, MOVES, Key, Move, key, mirrored
from .planner import Planner, make_grid
from .rig import PARAMS, DanceRig

__all__ = [
    "FAMILIES",
    "MOVES",
    "PARAMS",
    "ChoreographerGenerator",
    "DanceRig",
    "Key",
    "Move",
    "Planner",
    "choreograph",
    "key",
    "make_grid",
    "mirrored",
]
