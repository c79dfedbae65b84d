"""Make the bundled pyzmq/msgpack wheels importable for a *legacy* add-on install.

Blender 4.2+ installs an extension's wheels itself (manifest ``wheels``). A classic add-on zip gets no such
service, so on first use the wheel matching this platform is unpacked into ``<add-on>/_vendor/<tag>/``
(a wheel is a zip of importable files) and that folder goes on ``sys.path``. No pip, no network.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import zipfile

REQUIRED = {"zmq": "pyzmq", "msgpack": "msgpack"}


def platform_markers() -> tuple[str, tuple[str, ...]]:
    """(folder name, substrings a matching wheel file name contains)."""
    machine = platform.machine().lower()
    if sys.platform.startswith("linux"):
        return "linux", ("manylinux", "x86_64" if machine in ("x86_64", "amd64") else machine)
    if sys.platform == "win32":
        return "windows", ("win_amd64",)
    arch = "arm64" if machine in ("arm64", "aarch64") else "x86_64"
    return f"macos-{arch}", ("macosx", arch)


def _matches(name: str, markers: tuple[str, ...]) -> bool:
    if markers[0] == "macosx":  # one wheel may serve both architectures
        return "macosx" in name and (markers[1] in name or "universal2" in name)
    return all(marker in name for marker in markers)


def python_tag_fits(name: str, tag: str) -> bool:
    """True when wheel ``name`` serves CPython ``tag`` (``cp312``): built for it, or abi3 for an older one."""
    parts = name[:-4].split("-")
    if len(parts) < 5:
        return False
    python, abi = parts[-3], parts[-2]
    if abi == "abi3":
        return python.startswith("cp3") and python[3:].isdigit() and int(python[3:]) <= int(tag[3:])
    return python == tag and abi == tag


def _missing() -> list[str]:
    return [dist for module, dist in REQUIRED.items() if importlib.util.find_spec(module) is None]


def ensure_wheels(addon_dir: str) -> list[str]:
    """Make the bundled wheels importable: reuse what an earlier start unpacked, unpack only what is still
    missing. Returns the wheel files unpacked now."""
    folder, markers = platform_markers()
    target = os.path.join(addon_dir, "_vendor", folder)
    if _missing() and os.path.isdir(target) and target not in sys.path:
        sys.path.insert(0, target)  # unpacked by an earlier start (a loaded .pyd must not be overwritten)
        importlib.invalidate_caches()
    missing = _missing()
    wheels_dir = os.path.join(addon_dir, "wheels")
    if not missing or not os.path.isdir(wheels_dir):
        return []
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    added = []
    for dist in missing:
        for name in sorted(os.listdir(wheels_dir)):
            if name.startswith(f"{dist}-") and python_tag_fits(name, tag) and _matches(name, markers):
                with zipfile.ZipFile(os.path.join(wheels_dir, name)) as wheel:
                    wheel.extractall(target)
                added.append(name)
                break
    if added and target not in sys.path:
        sys.path.insert(0, target)
    importlib.invalidate_caches()
    return added


def missing_dependencies() -> list[str]:
    """Distributions (pyzmq, msgpack) this Blender's Python cannot import: the add-on cannot talk to a backend."""
    return _missing()


def missing_dependencies_message(missing: list[str]) -> tuple[str, str]:
    """(what is wrong, how to fix it) for a Python without the add-on's wheels."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (f"missing Python packages: {', '.join(missing)} (this Blender runs Python {version})",
            "install the add-on zip made by scripts/build_addon.py (it carries wheels for Python 3.11-3.13), or "
            f"run: {sys.executable} -m pip install {' '.join(missing)}")
