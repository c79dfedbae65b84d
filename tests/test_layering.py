"""The folders show the architecture: these import rules keep it that way (docs/architecture.md)."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "diffusers", "transformers", "librosa", "mamba_ssm", "smplx", "cv2", "av"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules("shared"), ids=lambda p: str(p.relative_to(REPO)))
def test_shared_stays_importable_inside_blender(path):
    roots = imported_roots(path)
    assert not roots & (HEAVY | {"bpy", "backend", "blender_addon"}), f"{path.name} imports {roots & (HEAVY | {'bpy', 'backend', 'blender_addon'})}"
    # shared/ is bundled as a sub-package of the add-on, so it must import its siblings relatively
    assert "shared" not in roots, f"{path.name} must use relative imports for shared/ modules"
    if path.name != "client.py":
        assert "zmq" not in roots, f"{path.name}: only shared/client.py talks ZeroMQ"


@pytest.mark.parametrize("path", modules("blender_addon"), ids=lambda p: str(p.relative_to(REPO)))
def test_addon_never_imports_the_backend_or_torch(path):
    roots = imported_roots(path)
    assert not roots & (HEAVY | {"backend"}), f"{path.name} imports {roots & (HEAVY | {'backend'})}"


@pytest.mark.parametrize("path", modules("backend"), ids=lambda p: str(p.relative_to(REPO)))
def test_backend_never_imports_blender(path):
    roots = imported_roots(path)
    assert not roots & {"bpy", "blender_addon", "mathutils"}, f"{path.name} imports Blender modules"


PROJECT_FOLDERS = ("shared", "backend", "blender_addon", "tests", "benchmarks", "scripts", "examples")


def test_no_module_imports_both_bpy_and_torch():
    for path in (p for folder in PROJECT_FOLDERS for p in modules(folder)):
        roots = imported_roots(path)
        assert not {"bpy", "torch"} <= roots, f"{path} imports both bpy and torch"
