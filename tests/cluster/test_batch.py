"""``mace-dance batch``: manifests checked up front, rows run here or on Ray, resume after a kill."""

from __future__ import annotations

import json
import shutil
import os
import signal
import subprocess
import sys
import time

import pytest

from backend.cli import main
from backend.cluster.batch import read_manifest
from shared.errors import InvalidInputError
from shared.motion_io import load_motion
from tests.server.server_fakes import REPO

MUSIC = REPO / "examples" / "music" / "groove_120bpm.ogg"
REFERENCE = REPO / "examples" / "reference.png"


def _csv(path, header: str, *lines: str):
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_every_bad_row_is_named_before_anything_runs(tmp_path):
    (tmp_path / "song.ogg").write_bytes(MUSIC.read_bytes())
    manifest = _csv(
        tmp_path / "album.csv", "music,reference,seed,genre,output,options",
        "song.ogg,,1,Jazz,a.npz,",                        # line 2: fine
        "missing.ogg,,1,,b.npz,",                         # 3: no such music
        "song.ogg,,-2,,c.npz,",                           # 4: negative seed
        "song.ogg,,1,Polka,d.npz,",                       # 5: unknown genre
        "song.ogg,,1,,e.mp4,",                            # 6: a video without a reference
        f'song.ogg,{REFERENCE},1,,f.mp4,"{{""colour"": 1}}"',  # 7: unknown option
        "song.ogg,,2,,a.npz,",                            # 8: same output as line 2
        "song.ogg,,x,,g.npz,",                            # 9: seed not a number
    )
    with pytest.raises(InvalidInputError) as caught:
        read_manifest(manifest)
    message = caught.value.message
    assert "7 bad row(s)" in message
    for expected in ("row 3: music file not found", "row 4: `seed` must be a finite number >= 0",
                     "row 5: unknown genre 'Polka'", "row 6: output 'e.mp4' must end in .npz",
                     "row 7: unknown option(s) 'colour'", "row 8: output", "row 9: `seed` must be a whole number"):
        assert expected in message, message
    assert "row 2:" not in message
    assert main(["batch", str(manifest)]) == 3  # the CLI refuses the same way, running nothing
    assert not (tmp_path / "a.npz").exists()

    jsonl = tmp_path / "album.jsonl"
    jsonl.write_text('{"music": "song.ogg", "seed": 3}\n{"music": "song.ogg", "seed": 4\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="row 2: not valid JSON"):
        read_manifest(jsonl)


@pytest.mark.slow  # generates and renders several rows through the CLI path, twice (resume)
def test_local_batch_makes_motions_and_videos_reports_failures_and_resumes(tmp_path, capsys):
    (tmp_path / "song.ogg").write_bytes(MUSIC.read_bytes())
    (tmp_path / "broken.ogg").write_bytes(b"this is not music")
    keypoints = json.loads((REPO / "examples" / "reference_keypoints.json").read_text())
    rows = [
        {"music": "song.ogg", "seed": 1, "genre": "Jazz", "duration_s": 2.0},
        {"music": "song.ogg", "seed": 2, "duration_s": 2.0, "output": "videos/two.mp4", "reference": str(REFERENCE),
         "renderer": "puppet", "options": {"width": 128, "height": 192, "reference_keypoints": keypoints}},
        {"music": "broken.ogg", "seed": 3},
    ]
    manifest = tmp_path / "batch.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    assert main(["batch", str(manifest), "--generator", "choreographer"]) == 1  # one row failed
    out = capsys.readouterr().out
    assert "batch: 2 done, 1 failed, 0 skipped" in out
    assert "row 3 failed: " in out and "broken.ogg" in out
    motion = load_motion(tmp_path / "song_seed1.npz")
    assert motion.metadata["seed"] == 1 and abs(motion.duration - 2.0) < 0.1
    assert (tmp_path / "videos" / "two.mp4").stat().st_size > 0 and (tmp_path / "videos" / "two.npz").is_file()
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temporary files left behind
    made = {p: p.stat().st_mtime_ns for p in (tmp_path / "song_seed1.npz", tmp_path / "videos" / "two.mp4")}

    assert main(["batch", str(manifest), "--generator", "choreographer"]) == 1
    assert "batch: 0 done, 1 failed, 2 skipped" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in made} == made  # complete rows were not redone


@pytest.mark.slow  # a local Ray cluster, killed halfway and started again
@pytest.mark.timeout(900)
def test_ray_batch_killed_halfway_resumes_with_only_the_missing_rows(ray_cluster, tmp_path):
    (tmp_path / "song.ogg").write_bytes(MUSIC.read_bytes())
    rows = 6
    _csv(tmp_path / "album.csv", "music,seed,duration_s", *(f"song.ogg,{seed},2.0" for seed in range(rows)))
    outputs = [tmp_path / f"song_seed{seed}.npz" for seed in range(rows)]
    address = ray_cluster.get_runtime_context().gcs_address
    command = [sys.executable, "-m", "backend.cli", "batch", str(tmp_path / "album.csv"), "--ray", address,
               "--generator", "choreographer"]
    env = dict(os.environ, PYTHONPATH=str(REPO))

    first = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        while sum(p.is_file() for p in outputs) < 2:
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "no row finished in time"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)  # a crash or a pre-empted node, halfway
    finally:
        first.kill()
        first.wait(30)
        first.stdout.close()
    before = {p: p.stat().st_mtime_ns for p in outputs if p.is_file()}
    assert 2 <= len(before) < rows

    second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"batch: {rows - len(before)} done, 0 failed, {len(before)} skipped" in second.stdout
    assert all(p.is_file() for p in outputs)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # only the missing rows were made
    assert [load_motion(p).metadata["seed"] for p in outputs] == list(range(rows))


def test_sampler_and_steps_columns_reach_each_rows_request(tmp_path, monkeypatch):
    from backend.cluster import batch
    from shared.sampling import SamplerChoice
    from tests.server.server_fakes import StepGenerator

    (tmp_path / "song.ogg").write_bytes(MUSIC.read_bytes())
    manifest = _csv(tmp_path / "album.csv", "music,seed,sampler,steps,output",
                    "song.ogg,1,ddim,20,a.npz", "song.ogg,2,,,b.npz", "song.ogg,3,,4,c.npz")
    rows = read_manifest(manifest, sampling=SamplerChoice("dpmpp", 8))
    assert [row.sampling for row in rows] == [SamplerChoice("ddim", 20), SamplerChoice("dpmpp", 8),
                                              SamplerChoice("dpmpp", 4)]
    generator = StepGenerator()
    monkeypatch.setattr(batch, "_engine", lambda role, choice, device: generator)
    assert batch.run_row(rows[0]).state == "done"
    assert generator.requests[0].sampling == SamplerChoice("ddim", 20)
    bad = _csv(tmp_path / "bad.csv", "music,sampler,steps,output", "song.ogg,euler,,x.npz", "song.ogg,ddim,0,y.npz")
    with pytest.raises(InvalidInputError) as caught:
        read_manifest(bad)
    assert "row 2: unknown sampler 'euler'" in caught.value.message
    assert "row 3: `steps` must be a finite number >= 1" in caught.value.message


@pytest.mark.slow  # Ray tasks: a choreographer and a puppet render on the shared local cluster
@pytest.mark.timeout(900)
def test_ray_batch_needs_no_shared_disk_and_fails_a_gpu_row_at_once(ray_cluster, tmp_path, monkeypatch):
    from backend.cluster import batch

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "song.ogg").write_bytes(MUSIC.read_bytes())
    (inputs / "anna.png").write_bytes(REFERENCE.read_bytes())
    keypoints = json.loads((REPO / "examples" / "reference_keypoints.json").read_text())
    manifest = tmp_path / "album.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in [
        {"music": "inputs/song.ogg", "seed": 1, "duration_s": 2.0, "output": "out/one.npz"},
        {"music": "inputs/song.ogg", "seed": 2, "duration_s": 2.0, "output": "out/two.mp4",
         "reference": "inputs/anna.png", "renderer": "puppet",
         "options": {"width": 128, "height": 192, "reference_keypoints": keypoints}},
        {"music": "inputs/song.ogg", "seed": 3, "duration_s": 2.0, "generator": "motion_expert"},
    ]), encoding="utf-8")
    rows = read_manifest(manifest, generator="choreographer")
    running = batch.BatchProgress.running

    def remove_inputs_once_submitted(self, count):  # called once every row was handed to Ray
        shutil.rmtree(inputs, ignore_errors=True)
        running(self, count)

    monkeypatch.setattr(batch.BatchProgress, "running", remove_inputs_once_submitted)
    started = time.monotonic()
    summary = batch.run_batch(rows, ray_address=ray_cluster.get_runtime_context().gcs_address, progress=False)
    assert not inputs.exists()
    outcomes = {outcome.number: outcome for outcome in summary.outcomes}
    assert outcomes[3].state == "failed" and "needs a GPU" in outcomes[3].reason and "has none" in outcomes[3].reason
    assert outcomes[1].state == outcomes[2].state == "done", summary.report()
    assert load_motion(tmp_path / "out" / "one.npz").metadata["seed"] == 1
    assert (tmp_path / "out" / "two.mp4").read_bytes()[4:8] == b"ftyp"
    assert load_motion(tmp_path / "out" / "two.npz").metadata["seed"] == 2
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # written atomically: no partial files left
    assert time.monotonic() - started < 600


def test_outputs_are_compared_by_resolved_path(tmp_path):
    (tmp_path / "song.ogg").write_bytes(MUSIC.read_bytes())
    (tmp_path / "sub").mkdir()
    manifest = _csv(tmp_path / "album.csv", "music,seed,output", "song.ogg,1,out.npz", "song.ogg,2,sub/../out.npz")
    with pytest.raises(InvalidInputError, match="row 3: output .*out.npz is also row 2's"):
        read_manifest(manifest)


@pytest.mark.parametrize("name, content, text", [
    ("bad.csv", b"music,seed\nsong\xff\xfe.ogg,1\n", "not UTF-8 text"),
    ("deep.jsonl", b'{"music": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "nested too deeply"),
    ("wide.csv", b"music,seed\n" + b"x" * 200_000 + b",1\n", "not a readable CSV row"),
])
def test_malformed_manifests_exit_3_with_a_short_message(tmp_path, capsys, name, content, text):
    manifest = tmp_path / name
    manifest.write_bytes(content)
    with pytest.raises(InvalidInputError, match=text) as caught:
        read_manifest(manifest)
    assert len(caught.value.message) < 1000
    assert main(["batch", str(manifest)]) == 3
    assert len(capsys.readouterr().err) < 2000
