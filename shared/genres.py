"""Dance genres the Motion Expert is conditioned on (FineDance ``style2`` labels, in label order).

:func:`genre_index` is the one place a genre name is checked: the CLI, the server, the choreographer, the
Motion Expert pipeline and training data all go through it, so a wrong name gets the same error and hint
everywhere.
"""

from .errors import InvalidInputError

GENRES: tuple[str, ...] = (
    "Dai", "ShenYun", "Wei", "Korean", "Urban", "Hiphop", "Popping", "Miao",
    "HanTang", "Breaking", "Kun", "Locking", "Jazz", "Choreography", "Chinese", "DunHuang",
)  # fmt: skip

#: How to fix a wrong genre, in every error about one.
GENRE_HINT = f"choose one of {', '.join(GENRES)}, or 'auto' (or nothing) for no preference"


def genre_index(name: str | None) -> int | None:
    """Label index of ``name`` (case-insensitive), None for no genre (None, "" or "auto").

    Raises:
        InvalidInputError: ``name`` is not a genre (the hint lists them).
    """
    if name is None or name == "" or name.lower() == "auto":
        return None
    for i, genre in enumerate(GENRES):
        if genre.lower() == name.lower():
            return i
    raise InvalidInputError(f"unknown genre {name!r}", GENRE_HINT)
