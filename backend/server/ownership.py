"""Who a job belongs to, and where its owner can be reached now.

A job's *owner* is the client's CURVE public key when the backend uses keys, else a secret token the backend
gave the client at ``hello`` (an HMAC of a random nonce under a key of this process: checked without a
table, so a flood of ``hello`` costs no memory, and meaningless to a restarted backend).

A ZeroMQ routing id is no identity: a client may choose its own, and the backend's are sequential, so a
client that connects with the routing id of one that left would receive what was sent there. So messages
for an owner go to the route the owner last *spoke from* (a request carrying its token or key), and every
closed connection (the ROUTER's socket monitor reports it, without saying which) forgets all routes: an owner
is reachable again once it speaks, which a client with live jobs does every heartbeat. An owner speaking from
several connections (the same CURVE key in two programs) is sent its messages on each. Meanwhile progress is
dropped (a fresh snapshot is sent when the owner is back) and final messages are held.

Final messages (``result``/``error``) are also kept for ``fetch`` (by job id and token, so only by the owner)
within a byte budget, oldest dropped first.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import secrets

from shared.errors import ProtocolError

TOKEN_HINT = "send `hello` and put the `token` it returns in the payload of every job, cancel, fetch and heartbeat"
#: Connections one owner is reached on at most (the latest that spoke).
ROUTES_PER_OWNER = 8
#: Final messages kept for ``fetch`` (bytes, all owners together) and how many.
RETAINED_RESULT_BYTES = 64 * 1024 * 1024
RETAINED_RESULTS = 256
_NONCE_BYTES = 18
_MAC_BYTES = 18


class Owners:
    """Tokens, each owner's current route, and the final messages kept for ``fetch``."""

    def __init__(self, *, with_keys: bool):
        self.with_keys = with_keys
        self._secret = secrets.token_bytes(32)
        self._routes: dict[bytes, dict[tuple[bytes, ...], None]] = {}  # owner -> its routes, oldest first
        self._finals: collections.OrderedDict[tuple[bytes, str], bytes] = collections.OrderedDict()
        self._final_bytes = 0
        self._undelivered: set[tuple[bytes, str]] = set()

    # ---- tokens -------------------------------------------------------------------------------------------
    def issue(self, presented: object) -> str | None:
        """The token a ``hello`` returns: ``presented`` when this backend issued it (a reconnecting client
        keeps its jobs), else a new one; None with CURVE keys (the key is the owner)."""
        if self.with_keys:
            return None
        if isinstance(presented, str) and self._verified(presented) is not None:
            return presented
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _b64(nonce) + "." + _b64(self._mac(nonce))

    def owner(self, curve_key: bytes | None, payload: dict, *, required: bool) -> bytes | None:
        """The owner a request speaks for: its CURVE key, else its payload's valid ``token``.

        Raises:
            ProtocolError: ``required`` and no token, or a token this backend did not issue.
        """
        if self.with_keys:
            return curve_key
        token = payload.get("token")
        if token is None and not required:
            return None
        if not isinstance(token, str):
            raise ProtocolError("the request carries no `token` (protocol 3: jobs belong to a token)", TOKEN_HINT)
        nonce = self._verified(token)
        if nonce is None:
            raise ProtocolError("`token` was not issued by this backend (was it restarted?)", TOKEN_HINT)
        return b"token:" + nonce

    def _verified(self, token: str) -> bytes | None:
        nonce_text, _, mac_text = token.partition(".")
        try:
            nonce, mac = base64.urlsafe_b64decode(nonce_text), base64.urlsafe_b64decode(mac_text)
        except (ValueError, TypeError):
            return None
        if len(nonce) != _NONCE_BYTES or not hmac.compare_digest(mac, self._mac(nonce)):
            return None
        return nonce

    def _mac(self, nonce: bytes) -> bytes:
        return hmac.new(self._secret, nonce, hashlib.sha256).digest()[:_MAC_BYTES]

    # ---- routes -------------------------------------------------------------------------------------------
    def spoke(self, owner: bytes, route: tuple[bytes, ...]) -> bool:
        """``owner`` sent a request from ``route``; True when it was unreachable until now."""
        routes = self._routes.setdefault(owner, {})
        back = not routes
        routes.pop(route, None)
        routes[route] = None
        while len(routes) > ROUTES_PER_OWNER:
            del routes[next(iter(routes))]
        return back

    def routes(self, owner: bytes) -> list[tuple[bytes, ...]]:
        """Where ``owner`` can be reached now (nowhere until it speaks again after a connection closed)."""
        return list(self._routes.get(owner, ()))

    def forget_routes(self) -> None:
        """A connection closed (which one the monitor does not say): nobody is reachable until it speaks."""
        self._routes.clear()

    # ---- final messages -----------------------------------------------------------------------------------
    def keep_final(self, owner: bytes, job_id: str, message: bytes, *, delivered: bool) -> None:
        """Keep a job's final message for ``fetch`` (and, when not ``delivered``, for the owner's return),
        within the byte budget: oldest dropped first; one undelivered message is kept whatever its size."""
        key = (owner, job_id)
        self._final_bytes += len(message) - len(self._finals.pop(key, b""))
        self._finals[key] = message
        if not delivered:
            self._undelivered.add(key)
        while self._finals and (self._final_bytes > RETAINED_RESULT_BYTES or len(self._finals) > RETAINED_RESULTS):
            oldest = next(iter(self._finals))
            if oldest == key and not delivered:
                break
            self._final_bytes -= len(self._finals.pop(oldest))
            self._undelivered.discard(oldest)

    def final(self, owner: bytes, job_id: str) -> bytes | None:
        """The job's final message, when still kept."""
        return self._finals.get((owner, job_id))

    def take_undelivered(self, owner: bytes) -> list[tuple[str, bytes]]:
        """The final messages ``owner`` has not been sent yet (now counted as sent)."""
        keys = [key for key in self._undelivered if key[0] == owner]
        self._undelivered.difference_update(keys)
        return [(key[1], self._finals[key]) for key in keys]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")
