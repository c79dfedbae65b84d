"""Dance genres the Motion Expert is conditioned on (FineDance ``style2`` labels, in label order)."""

GENRES: tuple[str, ...] = (
    "Dai", "ShenYun", "Wei", "Korean", "Urban", "Hiphop", "Popping", "Miao",
    "HanTang", "Breaking", "Kun", "Locking", "Jazz", "Choreography", "Chinese", "DunHuang",
)  # fmt: skip


def genre_index(name: str | None) -> int | None:
    """Label index of ``name`` (case-insensitive), None for no genre; raises ValueError for unknown names."""
    if name is None or name == "" or name.lower() == "auto":
        return None
    for i, genre in enumerate(GENRES):
        if genre.lower() == name.lower():
            return i
    raise ValueError(f"unknown genre {name!r}; choose one of {', '.join(GENRES)} or 'auto'")
