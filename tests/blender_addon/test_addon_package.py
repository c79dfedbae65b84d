"""The built zips install into Blender and enable: as a 4.2+ extension (wheels installed by Blender) and as a
legacy add-on (wheels unpacked by the add-on). Each install runs in a fresh process with its own HOME, so
the user's Blender configuration is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import build_addon  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Both zips, built with the wheel cache in build/wheels (downloaded once if missing)."""
    pytest.importorskip("bpy")
    cache = REPO / "build" / "wheels"
    try:
        build_addon.select_wheels(cache)
    except SystemExit:
        try:
            build_addon.download_wheels(cache)
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"no wheel cache in {cache} and pip could not download one: {exc}")
    out = tmp_path_factory.mktemp("addon-build")
    return build_addon.build(out, cache, download=False)


def run_blender_python(code: str, home: Path) -> str:
    """Run ``code`` in a new Python with bpy, HOME pointing at an empty folder; return its output."""
    env = dict(os.environ, HOME=str(home), PYTHONPATH="")  # the add-on must come from the zip, not the checkout
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=str(home), env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow  # builds both zips (wheels for every platform Blender runs on)
def test_extension_zip_layout_and_manifest(built):
    extension, legacy = built
    with zipfile.ZipFile(extension) as archive:
        names = set(archive.namelist())
        manifest = archive.read("blender_manifest.toml").decode()
    assert {"__init__.py", "compat.py", "shared/__init__.py", "shared/client.py", "convert/axes.py"} <= names
    wheels = sorted(n for n in names if n.startswith("wheels/"))
    assert any("pyzmq" in w and "win_amd64" in w for w in wheels) and any("msgpack" in w and "macosx" in w for w in wheels)
    for wheel in wheels:
        assert f'"./{wheel}"' in manifest
    assert 'network = "' in manifest and not any("__pycache__" in n for n in names)
    with zipfile.ZipFile(legacy) as archive:
        assert "mace_dance/__init__.py" in archive.namelist()
        assert "mace_dance/blender_manifest.toml" not in archive.namelist()


@pytest.mark.slow  # needs the built zips
def test_manifest_passes_blenders_own_validation(built, bpy):
    """The same check as `blender --command extension validate`, run with the tool the bpy module ships."""
    tool = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    if not tool.is_file():
        pytest.skip(f"this bpy build has no extension validator at {tool}")
    result = subprocess.run([sys.executable, str(tool), "validate", str(built[0])], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "Success" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow  # needs the built zips; installs them in a new Blender process
def test_extension_installs_enables_and_gets_its_wheels(built, tmp_path):
    extension, _ = built
    out = run_blender_python(f"""
        import bpy, os, sys
        bpy.ops.extensions.package_install_files(filepath={str(extension)!r}, repo="user_default",
                                                 enable_on_install=True)
        assert "bl_ext.user_default.mace_dance" in bpy.context.preferences.addons
        assert hasattr(bpy.types, "MACE_PT_dance") and hasattr(bpy.context.scene, "mace_dance")
        site = os.path.join(bpy.utils.user_resource("EXTENSIONS"), ".local", "lib",
                            "python%d.%d" % sys.version_info[:2], "site-packages")
        print(sorted(os.listdir(site)))
        shared = sys.modules["bl_ext.user_default.mace_dance._shared"]
        print("shared from", shared.BASE)
    """, tmp_path)
    assert "'msgpack'" in out and "'zmq'" in out
    assert "shared from bl_ext.user_default.mace_dance.shared" in out


@pytest.mark.slow  # needs the built zips; installs them in a new Blender process
def test_legacy_zip_installs_and_enables(built, tmp_path):
    _, legacy = built
    out = run_blender_python(f"""
        import bpy, addon_utils, sys
        bpy.ops.preferences.addon_install(filepath={str(legacy)!r})
        assert addon_utils.enable("mace_dance", default_set=True, handle_error=None) is not None
        assert hasattr(bpy.types, "MACE_PT_dance")
        print("shared from", sys.modules["mace_dance._shared"].BASE)
        addon_utils.disable("mace_dance", default_set=True)
        assert not hasattr(bpy.types, "MACE_PT_dance")
    """, tmp_path)
    assert "shared from mace_dance.shared" in out


def test_legacy_bootstrap_unpacks_the_wheel_for_this_platform(tmp_path, monkeypatch):
    from blender_addon import _wheels

    cache = REPO / "build" / "wheels"
    linux = sorted(cache.glob("msgpack-*-cp311-*manylinux*x86_64*.whl"))
    if not linux or not sys.platform.startswith("linux") or sys.version_info[:2] != (3, 11):
        pytest.skip("needs the Linux x86_64 CPython 3.11 msgpack wheel in build/wheels")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / linux[0].name).write_bytes(linux[0].read_bytes())
    monkeypatch.setattr(_wheels, "REQUIRED", {"mace_missing_module": "msgpack"})
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert _wheels.ensure_wheels(str(tmp_path)) == [linux[0].name]
    vendor = tmp_path / "_vendor" / "linux"
    assert sys.path[0] == str(vendor) and (vendor / "msgpack" / "__init__.py").is_file()


def test_legacy_bootstrap_reuses_what_an_earlier_start_unpacked(tmp_path, monkeypatch):
    """A second Blender start must not unpack again (on Windows a loaded .pyd cannot be overwritten)."""
    from blender_addon import _wheels

    folder, _ = _wheels.platform_markers()
    vendor = tmp_path / "_vendor" / folder / "mace_unpacked_before"
    vendor.mkdir(parents=True)
    (vendor / "__init__.py").write_text("")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "msgpack-9.9.9-cp311-cp311-any.whl").write_bytes(b"not a zip: must not be opened")
    monkeypatch.setattr(_wheels, "REQUIRED", {"mace_unpacked_before": "msgpack"})
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert _wheels.ensure_wheels(str(tmp_path)) == []
    assert str(tmp_path / "_vendor" / folder) in sys.path


def test_wheels_cover_every_python_a_blender_runs():
    """Blender's own builds run 3.11; Linux distributions' Blender packages run the system Python (3.12, 3.13)."""
    from blender_addon import _wheels

    assert build_addon.PYTHON_VERSIONS == ("3.11", "3.12", "3.13")
    abi3 = "pyzmq-27.3.0-cp312-abi3-manylinux_2_28_x86_64.whl"
    for fits in (build_addon.python_tag_fits, _wheels.python_tag_fits):
        assert fits(abi3, "cp313") and fits(abi3, "cp312") and not fits(abi3, "cp311")
        assert fits("msgpack-1.1.2-cp313-cp313-win_amd64.whl", "cp313")
        assert not fits("msgpack-1.1.2-cp312-cp312-win_amd64.whl", "cp313")


def test_missing_dependencies_get_a_clear_message_in_the_panel(bpy, scene, monkeypatch):
    from blender_addon import _wheels, ui

    from tests.blender_addon.test_addon_ui import draw

    monkeypatch.setattr(_wheels, "_missing", lambda: ["msgpack"])
    log = draw(bpy, ui.MACE_PT_dance, bpy.context)
    text = " ".join(entry[1] for entry in log if entry[0] == "label")
    assert "missing Python packages: msgpack" in text and "pip install msgpack" in text
    scene.mace_dance.music_path = __file__
    with pytest.raises(RuntimeError, match="missing Python packages: msgpack"):
        bpy.ops.mace.generate()


def test_starting_a_backend_without_one_installed_says_how_to_point_at_one(monkeypatch):
    import importlib.util
    import shutil

    from blender_addon import local_backend
    from shared.errors import BackendUnavailableError

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendUnavailableError, match="not on PATH") as caught:
        local_backend.launch_command(local_backend.LaunchSettings("tcp://127.0.0.1:7557"))
    assert "Backend Python" in caught.value.hint
