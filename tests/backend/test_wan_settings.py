"""One Wan settings object behind `render`, `serve` and the add-on: the same flags, checked the same way."""

from __future__ import annotations

import pytest

from backend.appearance.wan import WanAnimateOptions
from backend.cli import build_parser, main
from backend.cli._sampling import sampling_from_args
from backend.cli._wan import wan_options_from_args

FLAGS = ["--offload", "sequential", "--dtype", "float16", "--segment-frames", "33", "--model-fps", "16",
         "--face", "black", "--seed", "5", "--prompt", "a dancer"]  # fmt: skip


def test_render_and_serve_read_the_same_flags_into_the_same_settings(tmp_path):
    parser = build_parser()
    render = parser.parse_args(["render", "m.npz", "--reference", "r.png", "-o", "o.mp4", "--steps", "8", *FLAGS])
    serve = parser.parse_args(["serve", "--steps", "3", "--wan-steps", "8", *FLAGS])
    assert wan_options_from_args(render) == wan_options_from_args(serve)
    options = wan_options_from_args(serve)
    assert isinstance(options, WanAnimateOptions)
    assert (options.offload, options.dtype, options.segment_frame_length, options.model_fps, options.steps) == (
        "sequential", "float16", 33, 16.0, 8)
    assert sampling_from_args(serve).steps == 3  # serve's --steps stays the Motion Expert's


@pytest.mark.parametrize("bad", [["--segment-frames", "20"], ["--model-fps", "200"]])
def test_serve_refuses_bad_wan_settings_before_it_starts(bad, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MACE_DANCE_HOME", str(tmp_path))
    assert main(["serve", "--address", "tcp://127.0.0.1:0", *bad]) == 3
    assert "error:" in capsys.readouterr().err


def test_the_addon_starts_its_backend_with_its_wan_preferences():
    """The add-on's preferences travel as `serve` flags, which the backend reads into the same settings."""
    from blender_addon.local_backend import LaunchSettings, launch_command

    argv = launch_command(LaunchSettings("tcp://127.0.0.1:7557", python="python", wan_offload="model",
                                         wan_segment_frames=33))  # fmt: skip
    args = build_parser().parse_args(argv[argv.index("serve"):])
    options = wan_options_from_args(args)
    assert (options.offload, options.segment_frame_length) == ("model", 33)
    custom = launch_command(LaunchSettings("tcp://127.0.0.1:7557", command="mace-dance serve --offload sequential",
                                           wan_offload="model"))  # fmt: skip
    assert custom.count("--offload") == 1 and custom[custom.index("--offload") + 1] == "sequential"
    assert "--segment-frames" not in launch_command(LaunchSettings("tcp://127.0.0.1:7557", python="python"))
