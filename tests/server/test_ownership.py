"""Owner tokens, routes and kept final messages (``backend.server.ownership``), without a socket."""

from __future__ import annotations

import pytest

from backend.server import ownership
from backend.server.ownership import Owners
from shared.errors import ProtocolError


def test_tokens_are_checked_without_a_table_and_kept_across_hellos():
    owners = Owners(with_keys=False)
    token = owners.issue(None)
    assert owners.issue(token) == token  # a reconnecting client keeps its jobs
    assert owners.issue("forged.token") != "forged.token"
    owner = owners.owner(None, {"token": token}, required=True)
    nonce, _, mac = token.partition(".")
    with pytest.raises(ProtocolError, match="not issued by this backend"):
        owners.owner(None, {"token": nonce + "." + mac[::-1]}, required=True)
    with pytest.raises(ProtocolError, match="not issued by this backend"):
        Owners(with_keys=False).owner(None, {"token": token}, required=True)  # another backend's secret
    assert owners.owner(None, {}, required=False) is None
    assert Owners(with_keys=True).owner(b"key", {}, required=True) == b"key" and owner != b"key"


def test_a_closed_connection_makes_every_owner_speak_again_before_it_is_sent_anything():
    owners = Owners(with_keys=False)
    assert owners.spoke(b"a", (b"r1",)) is True
    assert owners.spoke(b"a", (b"r2",)) is False
    assert owners.routes(b"a") == [(b"r1",), (b"r2",)]
    owners.forget_routes()
    assert owners.routes(b"a") == []
    assert owners.spoke(b"a", (b"r3",)) is True


def test_final_messages_are_kept_within_a_budget_and_undelivered_ones_wait_for_their_owner(monkeypatch):
    monkeypatch.setattr(ownership, "RETAINED_RESULT_BYTES", 100)
    owners = Owners(with_keys=False)
    owners.keep_final(b"a", "j1", b"x" * 60, delivered=True)
    owners.keep_final(b"b", "j2", b"y" * 60, delivered=False)  # over budget: the oldest goes
    assert owners.final(b"a", "j1") is None and owners.final(b"b", "j2") == b"y" * 60
    owners.keep_final(b"b", "j3", b"z" * 500, delivered=False)  # one undelivered message stays, whatever its size
    assert owners.final(b"b", "j3") == b"z" * 500
    assert owners.take_undelivered(b"b") == [("j3", b"z" * 500)]
    assert owners.take_undelivered(b"b") == []
