"""Segmented renders resumable on any node: their finished segments kept on the head.

A segmented render (Wan-Animate) keeps each finished segment in a checkpoint folder on the disk of the
worker that runs it (``backend.jobwork.checkpoint_folder``). A retry on another node would not see that
folder, so while a job runs its worker mirrors the folder to the :class:`SegmentKeeper`, a Ray actor on the
head node (like the progress queue, it outlives any worker node): :class:`MirroredCheckpoints` restores what
the keeper holds into the worker's own folder before the render starts (a retry then continues from the
last kept segment, on whichever node it runs), and hands it every file the render finishes there. The
files travel as they are (the segment format is the renderer's). The executor drops a job's files when the
job ends (done, failed or cancelled).

Bounds: the keeper holds no segment in memory beyond the one being handed over (each is written to the
head's temporary folder at once); on that disk it keeps at most ``max_bytes`` (``DEFAULT_MAX_BYTES``, 8 GiB:
about 440 720p segments of Wan-Animate, 18 MB each) for all running jobs together. A file past the bound is
not kept (logged), so a retry resumes from the last segment kept before it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from shared.atomic import atomic_write

logger = logging.getLogger(__name__)

#: The most bytes of finished segments the keeper holds on the head's disk, all jobs together.
DEFAULT_MAX_BYTES = 8 * 1024**3


def _plain(name: str) -> str:
    """``name`` when it is a plain file name (no folder, not hidden), else ValueError."""
    if not name or name != Path(name).name or name.startswith("."):
        raise ValueError(f"not a plain file name: {name!r}")
    return name


class SegmentKeeper:
    """The head's copy of the running jobs' checkpoint folders, ``job`` (the folder's name) -> files, kept
    in a temporary folder of the head's own (see the module docstring for the bounds)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = Path(tempfile.mkdtemp(prefix="mace-dance-kept-segments-"))
        self.max_bytes = max_bytes
        self.used = 0

    def _path(self, job: str, name: str | None = None) -> Path:
        folder = self.root / _plain(job)
        return folder if name is None else folder / _plain(name)

    def keep(self, job: str, name: str, data: bytes) -> bool:
        """Keep file ``name`` of ``job``'s folder (replacing an older one); False when over the bound."""
        path = self._path(job, name)
        old = path.stat().st_size if path.is_file() else 0
        if self.used - old + len(data) > self.max_bytes:
            logger.warning("job folder %s: %s (%d bytes) not kept: the keeper holds %d of at most %d bytes",
                           job, name, len(data), self.used, self.max_bytes)
            return False
        with atomic_write(path) as handle:
            handle.write(data)
        self.used += len(data) - old
        return True

    def names(self, job: str) -> list[str]:
        """The files kept for ``job``, sorted."""
        folder = self._path(job)
        return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []

    def read(self, job: str, name: str) -> bytes:
        return self._path(job, name).read_bytes()

    def drop(self, job: str) -> None:
        """Forget ``job``'s files (it ended)."""
        folder = self._path(job)
        if folder.is_dir():
            self.used -= sum(path.stat().st_size for path in folder.iterdir())
            shutil.rmtree(folder, ignore_errors=True)

    def held(self) -> int:
        """The bytes kept now, all jobs together."""
        return self.used

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class MirroredCheckpoints:
    """A worker's side of one job: its checkpoint ``folder`` mirrored to ``keeper`` (an actor handle).

    ``restore()`` before the job runs; ``ship()`` whenever the job reports progress (a segment finished
    since is handed over, synchronously, so it is kept before the render goes on). A keeper that cannot be
    reached costs the resume, never the render: it is logged and the mirroring stops."""

    def __init__(self, keeper, folder: Path):
        self.keeper, self.folder, self.job = keeper, Path(folder), Path(folder).name
        self._sent: dict[str, tuple[int, int]] = {}  # name -> (size, mtime_ns) as handed over or restored
        self._broken = False

    def _call(self, method: str, *args):
        import ray

        try:
            return ray.get(getattr(self.keeper, method).remote(*args))
        except ray.exceptions.RayError as exc:
            logger.warning("the segment keeper failed (%s); a retry of this render on another node starts over",
                           type(exc).__name__)
            self._broken = True
            return None

    def restore(self) -> int:
        """Write the files the keeper holds (and this folder lacks) into the folder; returns how many."""
        names = self._call("names", self.job) or []
        restored = 0
        for name in names:
            path = self.folder / name
            if not path.is_file():
                data = self._call("read", self.job, name)
                if data is None:
                    break
                with atomic_write(path) as handle:  # a restore cut short leaves no half segment
                    handle.write(data)
                restored += 1
            stat = path.stat()
            self._sent[name] = (stat.st_size, stat.st_mtime_ns)
        return restored

    def ship(self) -> None:
        """Hand the keeper every whole file of the folder that is new or changed since it last got one."""
        if self._broken or not self.folder.is_dir():
            return
        for path in sorted(self.folder.iterdir()):
            if path.name.startswith(".") or not path.is_file():  # atomic writes in progress are hidden
                continue
            stat = path.stat()
            if self._sent.get(path.name) == (stat.st_size, stat.st_mtime_ns):
                continue
            if self._call("keep", self.job, path.name, path.read_bytes()) is None:
                return
            self._sent[path.name] = (stat.st_size, stat.st_mtime_ns)
