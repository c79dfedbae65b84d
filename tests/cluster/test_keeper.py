"""The head's segment keeper as a plain object: files kept per job on its own disk, within its byte bound,
dropped with the job, and never outside its folder."""

from __future__ import annotations

import pytest

from backend.cluster.keeper import SegmentKeeper


def test_the_keeper_holds_each_jobs_files_within_its_bound_and_drops_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    keeper = SegmentKeeper(max_bytes=10)
    assert keeper.root.parent == tmp_path
    assert keeper.keep("job-a", "segment-00000.npz", b"12345")
    assert keeper.keep("job-a", "segment-00000.npz", b"1234")  # replaced: 4 bytes held, not 9
    assert keeper.keep("job-b", "segment-00000.npz", b"123456")
    assert keeper.held() == 10
    assert not keeper.keep("job-a", "segment-00001.npz", b"x")  # past the bound: not kept
    assert keeper.names("job-a") == ["segment-00000.npz"] and keeper.read("job-a", "segment-00000.npz") == b"1234"
    keeper.drop("job-a")
    assert keeper.names("job-a") == [] and keeper.held() == 6
    assert keeper.keep("job-a", "segment-00001.npz", b"x")  # room again
    for name in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(ValueError):
            keeper.keep("job-a", name, b"x")
        with pytest.raises(ValueError):
            keeper.names(name)
    keeper.close()
    assert not keeper.root.exists()
