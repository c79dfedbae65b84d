#!/usr/bin/env python3
"""Build the installable Blender add-on: an extension zip (Blender 4.2+) and a legacy add-on zip.

    python scripts/build_addon.py                      # -> build/mace_dance-<version>.zip (+ -legacy.zip)
    python scripts/build_addon.py --wheels-dir DIR     # reuse wheels already downloaded into DIR

The extension zip holds the add-on at its root, ``shared/`` as a sub-package, ``wheels/`` with the
pyzmq and msgpack wheels for Linux x64, Windows x64 and macOS (x64 + arm64) and for every Python a Blender
runs (3.11 in Blender's own 4.2-5.0 builds; 3.12 and 3.13 in Linux distributions' Blender packages, which use
the system Python -- pyzmq's abi3 wheel serves both), and a manifest whose
``wheels`` list names exactly those files; Blender installs them, so nothing runs pip on the animator's
machine. Wheels are fetched once with ``pip download --only-binary`` and cached in ``build/wheels``.

The legacy zip (one ``mace_dance/`` folder, read through ``bl_info``) is for "Install from Disk" of a
classic add-on; it carries the same wheels, which the add-on unpacks for the running platform on first
use (see ``blender_addon/_wheels.py``).
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON_DIR = ROOT / "blender_addon"
SHARED_DIR = ROOT / "shared"
PACKAGE_ID = "mace_dance"

#: Wheels the add-on needs, per platform tag given to ``pip download``, for each Python a Blender may run.
REQUIREMENTS = ("pyzmq==27.3.0", "msgpack==1.1.2")
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
PLATFORMS = ("manylinux_2_28_x86_64", "win_amd64", "macosx_11_0_arm64", "macosx_10_15_x86_64")
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache"}


def addon_version() -> str:
    manifest = (ADDON_DIR / "blender_manifest.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', manifest, re.MULTILINE)
    if not match:
        raise SystemExit("blender_manifest.toml has no version line")
    bl_info = ast.literal_eval(re.search(r"bl_info = (\{.*?\n\})", (ADDON_DIR / "__init__.py").read_text(), re.S).group(1))
    if ".".join(map(str, bl_info["version"])) != match.group(1):
        raise SystemExit(f"bl_info version {bl_info['version']} differs from the manifest's {match.group(1)}")
    return match.group(1)


def download_wheels(wheels_dir: Path) -> None:
    """``pip download`` every required wheel for every platform into ``wheels_dir`` (skips what is there)."""
    wheels_dir.mkdir(parents=True, exist_ok=True)
    for python in PYTHON_VERSIONS:
        tag = "cp" + python.replace(".", "")
        for platform in PLATFORMS:
            if all(_find(wheels_dir, requirement, tag, platform) for requirement in REQUIREMENTS):
                continue
            cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--quiet",
                   "--python-version", python, "--implementation", "cp", "--abi", tag, "--abi", "abi3",
                   "--platform", platform, "--dest", str(wheels_dir), *REQUIREMENTS]
            subprocess.run(cmd, check=True)


def python_tag_fits(wheel_name: str, tag: str) -> bool:
    """True when a wheel serves CPython ``tag`` (``cp312``): built for it, or an abi3 wheel for an older one."""
    parts = wheel_name[:-4].split("-")
    python, abi = parts[-3], parts[-2]
    if abi == "abi3":
        return python.startswith("cp3") and int(python[3:]) <= int(tag[3:])
    return python == tag and abi == tag


def _find(wheels_dir: Path, requirement: str, tag: str, platform: str) -> list[Path]:
    name, version = requirement.split("==")
    return [w for w in sorted(wheels_dir.glob(f"{name}-{version}-*.whl"))
            if python_tag_fits(w.name, tag) and _covers(w.name, platform)]


def select_wheels(wheels_dir: Path) -> list[Path]:
    """The wheels of ``REQUIREMENTS`` in ``wheels_dir`` for every Python of ``PYTHON_VERSIONS`` and every
    platform (each must be covered)."""
    wheels: list[Path] = []
    for requirement in REQUIREMENTS:
        for python in PYTHON_VERSIONS:
            tag = "cp" + python.replace(".", "")
            missing = [p for p in PLATFORMS if not _find(wheels_dir, requirement, tag, p)]
            if missing:
                raise SystemExit(f"{wheels_dir} lacks {requirement} wheels for Python {python} on {missing}; "
                                 "run without --wheels-dir (or with --download) to fetch them")
            for platform in PLATFORMS:
                wheels.extend(w for w in _find(wheels_dir, requirement, tag, platform) if w not in wheels)
    return wheels


def _covers(wheel_name: str, platform: str) -> bool:
    if platform.startswith("manylinux"):
        return "manylinux" in wheel_name and "x86_64" in wheel_name
    if platform == "win_amd64":
        return wheel_name.endswith("win_amd64.whl")
    arch = platform.rsplit("_", 1)[-1] if not platform.endswith("x86_64") else "x86_64"
    return "macosx" in wheel_name and (arch in wheel_name or "universal2" in wheel_name)


def manifest_with_wheels(wheels: list[Path]) -> str:
    text = (ADDON_DIR / "blender_manifest.toml").read_text(encoding="utf-8")
    listing = "wheels = [\n" + "".join(f'  "./wheels/{w.name}",\n' for w in wheels) + "]"
    return re.sub(r"^wheels = \[.*?^\]", listing, text, count=1, flags=re.MULTILINE | re.DOTALL)


def _source_files(directory: Path):
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not EXCLUDED_PARTS.intersection(path.parts) and path.suffix != ".pyc":
            yield path


def write_zip(zip_path: Path, prefix: str, wheels: list[Path], manifest: str | None) -> None:
    """Add-on files under ``prefix``, ``shared/`` beside them, the wheels, and (extension) the manifest."""
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _source_files(ADDON_DIR):
            rel = path.relative_to(ADDON_DIR).as_posix()
            if rel == "blender_manifest.toml":
                continue
            archive.write(path, prefix + rel)
        for path in _source_files(SHARED_DIR):
            archive.write(path, prefix + "shared/" + path.relative_to(SHARED_DIR).as_posix())
        for wheel in wheels:
            archive.write(wheel, prefix + "wheels/" + wheel.name)
        if manifest is not None:
            archive.writestr(prefix + "blender_manifest.toml", manifest)
    tmp.replace(zip_path)


def build(out_dir: Path, wheels_dir: Path | None, download: bool) -> tuple[Path, Path]:
    version = addon_version()
    cache = wheels_dir or ROOT / "build" / "wheels"
    if download or wheels_dir is None:
        download_wheels(cache)
    wheels = select_wheels(cache)
    out_dir.mkdir(parents=True, exist_ok=True)
    extension = out_dir / f"{PACKAGE_ID}-{version}.zip"
    legacy = out_dir / f"{PACKAGE_ID}-{version}-legacy.zip"
    write_zip(extension, "", wheels, manifest_with_wheels(wheels))
    write_zip(legacy, f"{PACKAGE_ID}/", wheels, None)
    return extension, legacy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output folder (default: build/)")
    parser.add_argument("--wheels-dir", type=Path, default=None,
                        help="folder with already downloaded wheels to reuse (default: download into build/wheels)")
    parser.add_argument("--download", action="store_true", help="download missing wheels into --wheels-dir too")
    args = parser.parse_args(argv)
    extension, legacy = build(args.out, args.wheels_dir, args.download)
    print(f"extension: {extension}\nlegacy:    {legacy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
