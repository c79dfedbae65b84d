"""`mace-dance weights install/download`: releases in the layouts a publisher may use install and then load;
a Hugging Face download works from a local cache in offline mode; a broken archive changes nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from backend.appearance.wan import ADAPTER_FILE, LORA_FILE
from backend.config import BackendConfig
from backend.motion_expert.checkpoint import find_checkpoint, load_checkpoint
from backend.weights import install, installed_summary
from backend.weights.install import ADAPTER, LORA, MOTION
from shared.errors import InvalidInputError, MissingWeightsError
from tests.backend.motion_expert.test_checkpoint import official_key_shapes, write_official_checkpoint

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(latent=32, ff=48, dance_layers=1, music_layers=1, d_state=4)


def write_appearance(folder: Path, prefix: str = "module.pipe.animate_adapter.") -> None:
    """MACE-Dance's two appearance files with DiffSynth key names (small shapes)."""
    g = torch.Generator().manual_seed(3)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({prefix + "pose_patch_embedding.weight": torch.randn(8, 16, 1, 2, 2, generator=g),
               prefix + "pose_patch_embedding.bias": torch.randn(8, generator=g),
               prefix + "face_encoder.conv1_local.weight": torch.randn(2, 2, generator=g)},
              str(folder / "step-600.safetensors"))  # fmt: skip
    save_file({"pipe.dit.blocks.0.self_attn.q.lora_A.default.weight": torch.randn(4, 24, generator=g),
               "pipe.dit.blocks.0.self_attn.q.lora_B.default.weight": torch.randn(24, 4, generator=g)},
              str(folder / "epoch-1.safetensors"))  # fmt: skip


def tree(folder: Path) -> dict[str, str]:
    """Relative path -> content hash of every file (symlinks by target), to compare a folder before/after."""
    if not folder.exists():
        return {}
    result = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            result[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            result[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def make_7z(source: Path, archive: Path) -> Path:
    import py7zr

    with py7zr.SevenZipFile(archive, "w") as handle:
        handle.writeall(source, arcname=source.name)
    return archive


def make_zip(source: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as handle:
        for path in source.rglob("*"):
            handle.write(path, Path(source.name) / path.relative_to(source))
    return archive


@pytest.fixture
def config(tmp_path) -> BackendConfig:
    return BackendConfig(home=tmp_path / "home")


@pytest.mark.parametrize("layout", ["top", "one-down", "run-folders", "pth-name", "ckpt-deep"])
@pytest.mark.parametrize("packing", ["7z", "zip", "folder"])
def test_motion_release_layouts_install_and_load(tmp_path, config, layout, packing):
    release = tmp_path / "Expert-Motion"
    where = {"top": "train-3750.pt", "one-down": "Expert-Motion/train-3750.pt",
             "run-folders": "runs/train/exp/weights/train-3750.pt", "pth-name": "motion.pth",
             "ckpt-deep": "a/b/last.ckpt"}[layout]  # fmt: skip
    (release / where).parent.mkdir(parents=True)
    state = write_official_checkpoint(release / where, official_key_shapes(**SMALL))
    # release noise: an unrelated torch file, a readme
    torch.save({"state_dict": {"w": torch.zeros(2)}}, release / "vitpose-s.pth")
    (release / "README.md").write_text("weights")
    source = {"7z": lambda: make_7z(release, tmp_path / "Expert-Motion.7z"),
              "zip": lambda: make_zip(release, tmp_path / "Expert-Motion.zip"), "folder": lambda: release}[packing]()
    lines: list[str] = []
    installed = install(source, config, lines.append)

    assert [piece.kind for piece in installed] == [MOTION]
    placed = installed[0].path
    assert placed.parent == config.motion_weights and placed.suffix == ".pt"
    assert any("installed motion expert" in line for line in lines)
    model, _, _ = load_checkpoint(config.motion_weights, mamba_backend="torch")
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value)
    assert installed_summary(config)["motion_expert"]


@pytest.mark.parametrize("packing", ["7z", "zip"])
def test_appearance_release_nested_installs_at_the_top_of_the_mace_folder(tmp_path, config, packing):
    release = tmp_path / "Expert-Appearance"
    write_appearance(release / "models" / "train")
    source = (make_7z if packing == "7z" else make_zip)(release, tmp_path / f"Expert-Apprearance.{packing}")
    installed = install(source, config, lambda _: None)
    assert sorted(p.kind for p in installed) == sorted([ADAPTER, LORA])
    mace = config.mace_appearance_weights
    assert sorted(os.listdir(mace)) == sorted([ADAPTER_FILE, LORA_FILE])
    assert installed_summary(config)["mace_appearance"]


def test_single_safetensors_install_keeps_the_other_mace_file(tmp_path, config):
    release = tmp_path / "r"
    write_appearance(release)
    install(release, config, lambda _: None)
    before = (config.mace_appearance_weights / LORA_FILE).read_bytes()
    write_appearance(tmp_path / "new", prefix="pipe.animate_adapter.")
    install(tmp_path / "new" / "step-600.safetensors", config, lambda _: None)
    assert (config.mace_appearance_weights / LORA_FILE).read_bytes() == before
    assert len(list((config.weights_dir / "replaced").iterdir())) == 1  # the old folder kept, not deleted


def test_corrupt_archive_is_a_clear_error_and_leaves_the_weights_as_they_were(tmp_path, config):
    release = tmp_path / "Expert-Motion"
    release.mkdir()
    write_official_checkpoint(release / "train-1.pt", official_key_shapes(**SMALL))
    install(release, config, lambda _: None)
    before = tree(config.weights_dir)

    good = make_7z(release, tmp_path / "good.7z").read_bytes()
    broken = tmp_path / "Expert-Motion.7z"
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidInputError) as info:
        install(broken, config, lambda _: None)
    assert "Expert-Motion.7z" in info.value.message and "download it again" in info.value.hint
    assert tree(config.weights_dir) == before

    zip_broken = tmp_path / "x.zip"
    zip_broken.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InvalidInputError, match="x.zip"):
        install(zip_broken, config, lambda _: None)
    assert tree(config.weights_dir) == before


def test_checkpoint_that_does_not_load_names_the_file_and_what_it_lacked(tmp_path, config):
    shapes = official_key_shapes(**SMALL)
    shapes.pop("final_layer.bias")
    write_official_checkpoint(tmp_path / "train-9.pt", shapes)
    with pytest.raises(InvalidInputError) as info:
        install(tmp_path / "train-9.pt", config, lambda _: None)
    assert "train-9.pt" in info.value.message and "final_layer.bias" in info.value.message
    assert not config.motion_weights.exists()

    save_file({"pose_patch_embedding.weight": torch.zeros(8, 16, 1, 2, 2)}, str(tmp_path / "adapter.safetensors"))
    with pytest.raises(InvalidInputError, match="adapter.safetensors.*lacks its bias"):
        install(tmp_path / "adapter.safetensors", config, lambda _: None)
    save_file({"blocks.0.q.lora_A.weight": torch.zeros(4, 8)}, str(tmp_path / "lora.safetensors"))
    with pytest.raises(InvalidInputError, match="lora.safetensors.*partner"):
        install(tmp_path / "lora.safetensors", config, lambda _: None)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing")
    with pytest.raises(MissingWeightsError, match="no MACE-Dance weights"):
        install(tmp_path / "empty", config, lambda _: None)


def test_loader_points_at_install_for_a_nested_checkpoint(tmp_path):
    nested = tmp_path / "motion" / "Expert-Motion"
    nested.mkdir(parents=True)
    write_official_checkpoint(nested / "train-3750.pt", official_key_shapes(**SMALL))
    with pytest.raises(MissingWeightsError) as info:
        find_checkpoint(tmp_path / "motion")
    assert "mace-dance weights install" in info.value.hint and "train-3750.pt" in str(info.value)
    # A checkpoint file of any name given directly loads.
    shutil.copy(nested / "train-3750.pt", tmp_path / "weights.ckpt")
    load_checkpoint(tmp_path / "weights.ckpt", mamba_backend="torch")


def _hub_cache(cache: Path, repo: str, files: dict[str, Path]) -> Path:
    """huggingface_hub's cache layout for one revision: blobs/, refs/main, snapshots/<commit>/ with links."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    commit = hashlib.sha1(repo.encode()).hexdigest()
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    for name, source in files.items():
        data = source.read_bytes()
        blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = folder / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    return folder / "snapshots" / commit


@pytest.mark.slow  # packs both 7z archives, then a `weights download` process (torch import) unpacks them
def test_download_from_a_local_hub_cache_in_offline_mode(tmp_path):
    motion, appearance = tmp_path / "Expert-Motion", tmp_path / "Expert-Appearance"
    motion.mkdir()
    write_official_checkpoint(motion / "train-3750.pt", official_key_shapes(**SMALL))
    write_appearance(appearance / "models" / "train")
    cache = tmp_path / "hub"
    _hub_cache(cache, "GD-ML/MACE-Dance", {
        "weight/Expert-Motion/Expert-Motion.7z": make_7z(motion, tmp_path / "m.7z"),
        "weight/Expert-Appearance/Expert-Apprearance.7z": make_7z(appearance, tmp_path / "a.7z"),
    })  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "MACE_DANCE_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(REPO)}  # fmt: skip
    run = subprocess.run([sys.executable, "-m", "backend.cli", "weights", "download", "--motion", "--appearance"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=REPO)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "installed motion expert" in run.stdout and "installed MACE LoRA" in run.stdout
    config = BackendConfig(home=tmp_path / "home")
    assert installed_summary(config) == {"motion_expert": True, "wan_animate": False, "mace_appearance": True}

    # Not in the cache and offline: a clear error naming the file and the fix, exit code 4.
    run = subprocess.run([sys.executable, "-m", "backend.cli", "weights", "download", "--wan"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=REPO)  # fmt: skip
    assert run.returncode == 4 and "Wan2.2-Animate-14B-Diffusers" in run.stderr and "HF_HUB_OFFLINE" in run.stderr


def test_wan_download_links_the_cached_snapshot(tmp_path, monkeypatch):
    pytest.importorskip("diffusers")
    from huggingface_hub import constants

    from backend.weights import download
    from tests.backend.appearance.conftest import build_tiny_wan_animate_pipeline

    saved = tmp_path / "saved"
    build_tiny_wan_animate_pipeline().save_pretrained(str(saved))
    files = {str(p.relative_to(saved)): p for p in saved.rglob("*") if p.is_file()}
    snapshot = _hub_cache(tmp_path / "hub", "Wan-AI/Wan2.2-Animate-14B-Diffusers", files)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    config = BackendConfig(home=tmp_path / "home")
    config.wan_weights.mkdir(parents=True)
    (config.wan_weights / "my-notes.txt").write_text("keep me")

    download(("wan",), config, report=lambda _: None)
    assert config.wan_weights.is_symlink() and config.wan_weights.resolve() == snapshot.resolve()
    assert installed_summary(config)["wan_animate"]
    kept = list((config.weights_dir / "replaced").iterdir())
    assert (kept[0] / "my-notes.txt").read_text() == "keep me"
    from backend.appearance.wan import load_wan_animate_pipeline

    assert load_wan_animate_pipeline(config.wan_weights, dtype="float32").transformer is not None


# ---- hostile releases: bombs and corruption are named, nothing is filled --------------------------------------
def test_a_zip_bomb_stops_at_its_inflation_budget(tmp_path, config):
    bomb = tmp_path / "release.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("train-1.pt", "w", force_zip64=True) as member:
            for _ in range(80):
                member.write(bytes(1 << 20))  # 80 MiB of zeros: ~80 KiB zipped, over 100 times that
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(InvalidInputError, match="train-1.pt inflates past") as caught:
        install(bomb, config, lambda _: None)
    assert "zip bomb" in caught.value.message
    assert not config.motion_weights.exists()


class _Allocate:
    def __reduce__(self):
        return bytearray, (3 << 30,)


def test_a_tiny_checkpoint_asking_for_gigabytes_is_refused_before_loading(tmp_path, config):
    path = tmp_path / "train-2.pt"
    torch.save({"model_state_dict": {}, "blob": _Allocate()}, path)
    assert path.stat().st_size < 4096
    with pytest.raises(InvalidInputError, match="asks for 3,221,225,472, more than the"):
        install(path, config, lambda _: None)


def test_a_corrupt_checkpoint_is_reported_as_corrupt(tmp_path, config):
    path = tmp_path / "train-3.pt"
    write_official_checkpoint(path, official_key_shapes(**SMALL))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside a stored tensor
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="train-3.pt: the checkpoint is corrupt") as caught:
        install(path, config, lambda _: None)
    assert "download it again" in caught.value.hint
