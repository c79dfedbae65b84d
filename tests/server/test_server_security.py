"""Loopback by default; any other bind needs CURVE keys, and only allow-listed clients get in."""

from __future__ import annotations

import shutil

import pytest
import zmq.auth

from backend.server import BackendServer
from backend.server.security import CurveKeys, is_local_address
from shared.errors import BackendUnavailableError, InvalidInputError, NotFoundError
from tests.server.server_fakes import StepGenerator, wav_bytes


@pytest.mark.parametrize("address, local", [
    ("tcp://127.0.0.1:7557", True), ("tcp://localhost:1", True), ("tcp://[::1]:5", True),
    ("tcp://127.3.4.5:0", True), ("ipc:///tmp/mace.sock", True), ("inproc://x", True),
    ("tcp://*:7557", False), ("tcp://0.0.0.0:7557", False), ("tcp://192.168.1.4:7557", False),
    ("tcp://eth0:7557", False), ("tcp://example.org:7557", False), ("udp://127.0.0.1:1", False),
])
def test_is_local_address(address, local):
    assert is_local_address(address) is local


@pytest.mark.parametrize("address", ["tcp://*:0", "tcp://0.0.0.0:7557", "tcp://10.0.0.1:7557"])
def test_non_loopback_bind_without_keys_is_refused(address):
    with pytest.raises(InvalidInputError, match="without CURVE keys") as info:
        BackendServer(address, motion_generator=StepGenerator())
    assert "mace-dance keys" in info.value.hint


@pytest.fixture
def keys(tmp_path):
    """Server keys, one authorized client and one stranger, laid out as `mace-dance keys` does."""
    folder = tmp_path / "keys"
    folder.mkdir()
    zmq.auth.create_certificates(folder, "server")
    zmq.auth.create_certificates(folder, "animator")
    zmq.auth.create_certificates(tmp_path, "stranger")
    (folder / "authorized_clients").mkdir()
    shutil.copy(folder / "animator.key", folder / "authorized_clients" / "animator.key")
    return folder


def test_curve_admits_allow_listed_clients_only(keys, start_server, connect):
    server = start_server(StepGenerator(), curve_keys=CurveKeys.load(keys))
    admitted = connect(server, server_public_key=keys / "server.key",
                       client_secret_key_file=keys / "animator.key_secret")
    assert admitted.hello().motion_generator == "step-fake"
    assert admitted.generate_motion(wav_bytes(1.2), "song.wav").tempo == 120.0

    stranger = connect(server, timeout_s=1.0, server_public_key=keys / "server.key",
                       client_secret_key_file=keys.parent / "stranger.key_secret")
    with pytest.raises(BackendUnavailableError, match="refused this client's CURVE key") as info:
        stranger.hello()
    assert "authorized_clients" in info.value.hint

    plain = connect(server, timeout_s=1.0)  # no encryption at all
    with pytest.raises(BackendUnavailableError):
        plain.hello()
    assert admitted.hello().protocol_version >= 1  # still serving


def test_curve_keys_must_exist(tmp_path, keys):
    with pytest.raises(NotFoundError, match="no backend key pair") as info:
        CurveKeys.load(tmp_path / "nowhere")
    assert "mace-dance keys" in info.value.hint
    shutil.rmtree(keys / "authorized_clients")
    with pytest.raises(NotFoundError, match="no authorized client keys"):
        CurveKeys.load(keys)
