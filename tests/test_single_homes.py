"""Concepts with one home stay in it (docs/architecture.md, "One home per concept").

Each test fails when a second, drifting copy of a concept appears: the same wrong input must get the same
error everywhere, and the wording that belongs to the home must not be written anywhere else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import InvalidInputError
from shared.genres import GENRE_HINT

REPO = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("backend", "shared", "blender_addon")


def sources_containing(text: str) -> list[str]:
    """Project source files (not tests) whose text contains ``text``."""
    return sorted(
        str(path.relative_to(REPO))
        for folder in SOURCE_FOLDERS
        for path in (REPO / folder).rglob("*.py")
        if text in path.read_text(encoding="utf-8")
    )


# -- genre names: shared.genres.genre_index --------------------------------------------------------------


def assert_unknown_genre(error: BaseException) -> None:
    assert isinstance(error, InvalidInputError)
    assert error.message == "unknown genre 'polka'" and error.hint == GENRE_HINT


def test_a_wrong_genre_gets_one_error_from_the_cli(tmp_path, capsys):
    from backend.cli import main

    music = tmp_path / "music.wav"
    music.write_bytes(b"never read: the genre is checked first")
    assert main(["generate", str(music), "--genre", "polka", "-o", str(tmp_path / "out")]) == 3
    assert capsys.readouterr().err == f"error: unknown genre 'polka'\n  fix: {GENRE_HINT}\n"


def test_a_wrong_genre_gets_one_error_from_the_server(tmp_path):
    from backend.server.handlers import prepare_generate
    from backend.server.jobs import ServerLimits

    with pytest.raises(InvalidInputError) as err:
        prepare_generate({"genre": "polka"}, None, tmp_path, ServerLimits())
    assert_unknown_genre(err.value)


def test_a_wrong_genre_gets_one_error_from_the_choreographer(tmp_path):
    from backend.choreography import ChoreographerGenerator
    from backend.motion_generation import MotionRequest

    with pytest.raises(InvalidInputError) as err:
        ChoreographerGenerator().generate(MotionRequest(tmp_path / "never-read.wav", genre="polka"))
    assert_unknown_genre(err.value)


def test_a_wrong_genre_gets_one_error_from_the_motion_expert():
    import torch

    from backend.motion_expert.config import MotionExpertConfig
    from backend.motion_expert.denoiser import MotionDenoiser
    from backend.motion_expert.pipeline import MotionExpertPipeline
    from backend.motion_expert.representation import Normalizer

    config = MotionExpertConfig.tiny()
    torch.manual_seed(0)
    model = MotionDenoiser(config, mamba_backend="torch").eval()
    normalizer = Normalizer.fit(np.random.default_rng(0).normal(size=(8, config.motion_dim)))
    with pytest.raises(InvalidInputError) as err:
        MotionExpertPipeline(model, normalizer).resolve_genre("polka", seed=0)
    assert_unknown_genre(err.value)


def test_genre_names_are_checked_in_one_place_only():
    assert sources_containing("unknown genre") == ["shared/genres.py"]


# -- what is regenerated: shared.keep (KeepSpec, KeepMask, regenerated_span, fit_length) ------------------


@pytest.mark.parametrize("definition", ["class KeepSpec", "class KeepMask", "def regenerated_span",
                                        "def fit_length", "def _fit_length", "def keep_at_fps"])
def test_the_regeneration_rules_have_one_home(definition):
    homes = sources_containing(definition + "(") + sources_containing(definition + ":")
    assert homes == ([] if definition.startswith(("def _", "def keep_at")) else ["shared/keep.py"])


@pytest.mark.parametrize("path", ["backend/server/handlers.py", "backend/choreography/choreographer.py",
                                  "backend/motion_expert/motion_expert_generator.py"])
def test_server_choreographer_and_motion_expert_take_the_span_from_shared_keep(path):
    source = (REPO / path).read_text(encoding="utf-8")
    assert "regenerated_span(" in source and "keep.motion.duration" not in source


def test_a_regenerated_dance_of_the_wrong_length_gets_one_error_from_both_generators():
    from backend.choreography.keep import apply_keep
    from shared.keep import KeepMask, KeepSpec, fit_length
    from shared.motion import Motion

    kept = Motion(poses=np.zeros((40, 24, 3)), trans=np.zeros((40, 3)), fps=30.0)
    keep = KeepSpec(kept, KeepMask.regenerate(40))
    with pytest.raises(InvalidInputError) as choreographer:
        apply_keep(Motion(poses=np.zeros((30, 24, 3)), trans=np.zeros((30, 3)), fps=30.0), keep)
    with pytest.raises(InvalidInputError) as expert:  # what the Motion Expert does to its music features
        fit_length(np.zeros((30, 35)), 40)
    assert choreographer.value.hint == expert.value.hint
    assert "has 30 frames but the motion to edit 40" in choreographer.value.message


# -- out of memory: backend.out_of_memory -----------------------------------------------------------------


def test_every_kind_of_out_of_memory_is_recognised_and_nothing_else():
    import torch

    from backend.out_of_memory import is_out_of_memory

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("expected scalar type Float but found Half"))
    assert not is_out_of_memory(ValueError("out of memory"))  # only allocators' errors count


def test_out_of_memory_becomes_our_error_with_the_hint_and_others_pass_through():
    import torch

    from backend.out_of_memory import out_of_memory_as
    from shared.errors import OutOfMemoryError

    with pytest.raises(OutOfMemoryError) as err:
        with out_of_memory_as("the GPU ran out of memory while testing", "use less"):
            raise torch.OutOfMemoryError("CUDA out of memory")
    assert (err.value.message, err.value.hint) == ("the GPU ran out of memory while testing", "use less")
    assert isinstance(err.value.__cause__, torch.OutOfMemoryError)
    with pytest.raises(KeyError):
        with out_of_memory_as("unused", "unused"):
            raise KeyError("not memory")
    own = InvalidInputError("bad", "fix")
    with pytest.raises(InvalidInputError) as passed:
        with out_of_memory_as("unused", "unused"):
            raise own
    assert passed.value is own


def test_a_job_that_runs_out_of_memory_fails_with_the_out_of_memory_code():
    import torch

    from backend.server.jobs import error_for_exception

    class FakeJob:
        kind, id, cancel_reason = "render_video", "job-1", ""

        def public_error(self, error):
            return error

    state, error = error_for_exception(torch.OutOfMemoryError("CUDA out of memory"), FakeJob())
    assert state == "failed" and error.code == "out_of_memory"


def test_out_of_memory_is_recognised_in_one_place_only():
    assert sources_containing("OutOfMemoryError as") == []
    assert sources_containing('"out of memory" in') == ["backend/out_of_memory.py"]
    assert sources_containing(".__name__ == \"OutOfMemoryError\"") == []  # never by the class name


# -- the renderers' shared geometry: backend.appearance.keypoints ------------------------------------------


def test_facing_the_camera_is_decided_in_one_place():
    from backend.appearance.keypoints import KP, Camera, pelvis_facing

    keypoints = np.zeros((2, 20, 3))
    keypoints[:, KP["left_hip"], 0], keypoints[:, KP["right_hip"], 0] = 0.1, -0.1  # left hip on +X: faces +Z
    keypoints[1, :, 0] *= -1  # hips swapped: the back is to the camera
    np.testing.assert_allclose(pelvis_facing(keypoints, Camera()), [1.0, -1.0])
    np.testing.assert_allclose(pelvis_facing(keypoints, Camera(yaw_deg=90.0)), [0.0, 0.0], atol=1e-12)
    assert sources_containing("np.cross(left, np.array([0.0, 1.0, 0.0]))") == ["backend/appearance/keypoints.py"]


def test_face_points_and_the_cv2_fixed_point_shift_have_one_home():
    assert sources_containing('"nose", "right_eye", "left_eye", "right_ear", "left_ear"') == [
        "backend/appearance/keypoints.py"
    ]
    assert sources_containing("shift=4") == [] and sources_containing("* 16).astype") == []


# -- numba's cache folder: backend/features/__init__.py -----------------------------------------------------


def test_numba_cache_is_configured_once_before_any_librosa_import():
    assert sources_containing("configure_numba_cache()\n") == ["backend/features/__init__.py"]  # calls, not the def
    importers = sources_containing("import librosa")
    assert importers and all(path.startswith("backend/features/") for path in importers), importers


# -- the body template: shared.body_mesh ---------------------------------------------------------------------


def test_the_body_template_has_one_home_used_by_the_addon_and_the_backend():
    for definition in ("def procedural_body(", "def smpl_body(", "class BodyMesh", "def rig_rest(", "class RigRest",
                       "def bone_matrices(", "_PELVIS_DROP = "):
        assert sources_containing(definition) == ["shared/body_mesh.py"], definition
    from blender_addon.convert import rig

    assert not any(hasattr(rig, name) for name in ("rig_rest", "RigRest", "BONE_NAMES", "ROOT_BONE"))  # no aliases
    assert "backend/appearance/body25d.py" in sources_containing("body_mesh.procedural_body(")


# -- rig maths and bone names: shared.rotations, shared.rig_names --------------------------------------------


def test_rotation_between_vectors_has_one_home_that_handles_opposite_directions():
    from shared.rotations import rotation_between, unit

    rng = np.random.default_rng(0)
    a = rng.normal(size=(260, 3))
    cases = np.concatenate([rng.normal(size=(200, 3)),  # any
                            -a[200:250] * rng.uniform(0.1, 5, (50, 1)),  # opposite ways, any lengths
                            a[250:] * 3.0])  # the same way
    r = rotation_between(a, cases)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", r, unit(a)), unit(cases), atol=1e-9)
    # Opposite along each axis, too (the perpendicular helper switches there).
    for axis in np.eye(3):
        np.testing.assert_allclose(rotation_between(axis, -axis) @ axis, -axis, atol=1e-12)
    assert np.all(unit(np.zeros((2, 3))) == 0.0)
    for text in ("def _unit(", "def _swing(", "def swing(", "def _align(", "def _normalise("):
        assert sources_containing(text) == [], text


def test_bone_names_and_naming_conventions_have_one_home():
    from shared import rig_names

    assert rig_names.normalise("mixamorig7:Left_Arm") == rig_names.normalise("Armature|leftarm") == "leftarm"
    assert rig_names.convention_names("mixamo")["left_hip"] == "mixamorig:LeftUpLeg"
    assert sources_containing('"mixamorig:{S}UpLeg"') == ["shared/rig_names.py"]
    assert sources_containing("re.split(r\"[:|]\"") == ["shared/rig_names.py"]


# -- no import circles, not even ones hidden inside functions or TYPE_CHECKING blocks ------------------------


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports anywhere in it (top level, functions, TYPE_CHECKING), as dotted names."""
    import ast

    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("lower, upper", [
    ("backend/appearance/wan_segments.py", "backend.appearance.wan"),  # the renderer drives the segment loop
    ("backend/appearance/wan_options.py", "backend.appearance.wan"),  # the settings know nothing of the renderer
    ("shared/smpl_model.py", "shared.skeleton"),  # the skeleton reads SMPL files, not the other way round
])  # fmt: skip
def test_a_module_never_imports_the_module_built_on_it(lower, upper):
    assert upper not in _imported_modules(REPO / lower)
