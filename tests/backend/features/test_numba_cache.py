"""numba's JIT cache: in the user's cache folder unless set, one folder per process, safe when processes
compile at once (backend/features/numba_cache.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHOW = "import os, backend.features, numba; print(os.environ['NUMBA_CACHE_DIR']); print(numba.config.CACHE_DIR)"
#: A numba function cached on disk, called with the dtype given on the command line; prints the numba
#: folder, the sum, and how many of its variants this process loaded from the cache.
KERNEL = '''
import sys
import numpy as np
import backend.features  # sets numba's cache folder
import numba

@numba.njit(cache=True)
def total(x):
    s = x[0] * 0
    for v in x:
        s += v
    return s

print(numba.config.CACHE_DIR, total(np.arange(10, dtype=sys.argv[1])), sum(total.stats.cache_hits.values()))
'''


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "MACE_DANCE_NUMBA_WORK")}
    env["MACE_DANCE_CACHE"] = str(tmp_path / "cache")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def test_numba_cache_goes_to_the_user_cache_dir_unless_set(tmp_path):
    env = _env(tmp_path)
    out = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True)
    folder, seen_by_numba = out.stdout.split()
    assert folder == seen_by_numba
    assert Path(folder).parent == tmp_path / "cache" / "numba" / "work"  # this process's own folder
    assert not Path(folder).exists()  # removed at exit (it compiled nothing, so nothing was published)

    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(tmp_path / "mine")] * 2


def test_a_child_process_gets_its_own_folder(tmp_path):
    """A subprocess inherits NUMBA_CACHE_DIR from its parent; it must not write into the parent's folder."""
    code = f"import subprocess, sys; import backend.features; subprocess.run([sys.executable, '-c', {SHOW!r}]); {SHOW}"
    out = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, check=True)
    child, _, parent, _ = out.stdout.split()
    assert child != parent and Path(child).parent == Path(parent).parent


@pytest.mark.slow  # four processes each import numba and JIT-compile (about 2 s each on two idle cores)
def test_processes_compiling_at_once_never_share_a_folder_and_the_next_run_loads_from_the_cache(tmp_path):
    env, kernel = _env(tmp_path), tmp_path / "kernel.py"
    kernel.write_text(KERNEL)
    dtypes = ("float64", "int64", "float32")
    runs = [subprocess.Popen([sys.executable, str(kernel), dtype], env=env, stdout=subprocess.PIPE, text=True)
            for dtype in dtypes]  # fmt: skip
    outputs = [run.communicate()[0].split() for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0]
    assert [float(out[1]) for out in outputs] == [45.0] * 3
    assert len({out[0] for out in outputs}) == 3  # each compiled into its own folder
    numba_dir = tmp_path / "cache" / "numba"
    current = (numba_dir / "current").read_text().strip()
    assert (numba_dir / "snapshots" / current).is_dir()
    assert not any((numba_dir / "work").iterdir())  # every work folder removed at exit

    # The last to finish published its folder: the next process loads that variant from disk.
    publisher = current.split("-")[1]  # snapshots are named <time>-<pid>
    dtype = next(d for d, out in zip(dtypes, outputs) if Path(out[0]).name.startswith(publisher + "-"))
    out = subprocess.run([sys.executable, str(kernel), dtype], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[2] == "1"  # one cache hit, nothing compiled


@pytest.mark.slow  # a process with an empty cache compiles librosa's beat-tracker kernels (~10 s on two cores)
def test_the_beat_trackers_kernels_are_all_cached_for_the_next_process(tmp_path):
    """librosa declares one beat-tracker kernel with ``cache=False``; imported through ``import_librosa`` it is
    written to the cache with the others, so the next process loads it instead of compiling it (~2 s)."""
    code = "from backend.features.numba_cache import import_librosa; import_librosa().beat.beat_track"
    subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), check=True)
    numba_dir = tmp_path / "cache" / "numba"
    snapshot = numba_dir / "snapshots" / (numba_dir / "current").read_text().strip()
    cached = {path.name.split("-")[0] for path in snapshot.rglob("*.nbi")}
    assert {"beat.__beat_local_score", "beat.__beat_track_dp"} <= cached, sorted(cached)


#: Two numba functions cached on disk; each name on the command line is called (``spawn`` first runs this
#: script as a child process with the names after it); prints how many variants were loaded from the cache.
TWO_KERNELS = '''
import subprocess, sys
import numpy as np
import backend.features  # sets numba's cache folder (filled from the snapshot current now)
import numba

@numba.njit(cache=True)
def total(x):
    return x.sum()

@numba.njit(cache=True)
def largest(x):
    return x.max()

names = sys.argv[1:]
if names and names[0] == "spawn":
    names = names[2:]
    subprocess.run([sys.executable, __file__, sys.argv[2]], check=True)
for name in names:
    globals()[name](np.arange(10.0))
print(sum(sum(f.stats.cache_hits.values()) for f in (total, largest)))
'''


@pytest.mark.slow  # three processes import numba, two of them JIT-compile (about 2 s each on two idle cores)
def test_publishing_keeps_what_another_process_published_meanwhile(tmp_path):
    """A process filled before another published (a test worker that never analyses music, say) must not
    drop the other's compiles when it publishes its own."""
    env, kernel = _env(tmp_path), tmp_path / "kernels.py"
    kernel.write_text(TWO_KERNELS)
    # This process fills its folder from an empty cache, then a child compiles and publishes `total`, then
    # this one compiles `largest` and publishes last.
    subprocess.run([sys.executable, str(kernel), "spawn", "total", "largest"], env=env, check=True)
    out = subprocess.run([sys.executable, str(kernel), "total", "largest"], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stdout.split()[-1] == "2"  # both loaded from disk: nothing compiled again


def test_a_published_function_keeps_its_index_and_its_variants_together(tmp_path):
    """numba numbers a function's variants in its index in the order one process met them: laying this
    process's index over a snapshot whose variant files came from another process would point the index at
    the other's machine code. So a function is published whole: its index with all this process's files."""
    from backend.features import numba_cache

    base, work = tmp_path / "numba", tmp_path / "work" / "sub"
    current = base / "snapshots" / "1-1" / "sub"
    current.mkdir(parents=True)
    work.mkdir(parents=True)
    (base / "current").write_text("1-1\n")
    files = {current: {"f.nbi": "other index", "f.1.nbc": "other variant 1", "f.3.nbc": "other variant 3",
                       "g.nbi": "other g index", "g.1.nbc": "other g"},
             work: {"f.nbi": "our index", "f.1.nbc": "our variant 1", "f.2.nbc": "our variant 2",
                    "g.nbi": "stale g index"}}  # fmt: skip
    for folder, contents in files.items():
        for name, text in contents.items():
            (folder / name).write_text(text)
    # This process compiled variant 2 of f (its index changed); variant 1 came from the snapshot it was filled
    # from, which another process has since replaced.
    numba_cache._publish(base, tmp_path / "work", ["sub/f.nbi", "sub/f.2.nbc"])
    published = base / "snapshots" / (base / "current").read_text().strip() / "sub"
    assert {path.name: path.read_text() for path in published.iterdir()} == {
        "f.nbi": "our index", "f.1.nbc": "our variant 1", "f.2.nbc": "our variant 2",  # f whole, ours
        "g.nbi": "other g index", "g.1.nbc": "other g",  # g untouched here: the other process's is kept
    }  # fmt: skip
