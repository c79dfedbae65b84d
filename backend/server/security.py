"""Who may connect: loopback by default, CURVE keys (allow-listed clients) for anything else.

Key layout of ``--curve-keys DIR`` (made by ``mace-dance keys DIR``)::

    DIR/server.key_secret         the backend's key pair (ZeroMQ certificate, secret half)
    DIR/server.key                its public half: give it to the clients
    DIR/authorized_clients/*.key  public keys of the clients allowed in (one certificate each)
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from shared.errors import InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

SERVER_KEY_NAME = "server"
AUTHORIZED_CLIENTS_DIR = "authorized_clients"
KEYS_HINT = "create keys with `mace-dance keys DIR`, put the clients' public .key files in DIR/authorized_clients/ " \
            "and start the backend with `mace-dance serve --curve-keys DIR`"


def is_local_address(address: str) -> bool:
    """True for endpoints only this machine can reach: loopback TCP, ``ipc://`` and ``inproc://``."""
    if address.startswith(("ipc://", "inproc://")):
        return True
    match = re.fullmatch(r"tcp://(\[?[^\]]*\]?|[^:]*):(\d+|\*)", address)
    if not match:
        return False
    host = match.group(1).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "*", an interface name or a host name: reachable from outside
        return False


@dataclass(frozen=True)
class CurveKeys:
    """The backend's key pair and the folder of allow-listed client public keys."""

    public_key: bytes
    secret_key: bytes
    authorized_clients: Path

    @classmethod
    def load(cls, keys_dir: str | Path, authorized_clients: str | Path | None = None) -> "CurveKeys":
        import zmq.auth

        keys_dir = Path(keys_dir).expanduser()
        secret_file = keys_dir / f"{SERVER_KEY_NAME}.key_secret"
        if not secret_file.is_file():
            raise NotFoundError(f"no backend key pair at {secret_file}", KEYS_HINT)
        public, secret = zmq.auth.load_certificate(secret_file)
        if not secret:
            raise InvalidInputError(f"{secret_file} holds no secret key", KEYS_HINT)
        clients = Path(authorized_clients).expanduser() if authorized_clients else keys_dir / AUTHORIZED_CLIENTS_DIR
        if not clients.is_dir() or not any(clients.glob("*.key")):
            raise NotFoundError(f"no authorized client keys (*.key) in {clients}", KEYS_HINT)
        return cls(public, secret, clients)


def check_bind_allowed(address: str, keys: CurveKeys | None) -> None:
    """Refuse a non-local bind without CURVE keys: an open backend would run anyone's jobs."""
    if keys is None and not is_local_address(address):
        raise InvalidInputError(
            f"refusing to bind {address} without CURVE keys: it is reachable from other machines",
            f"bind tcp://127.0.0.1:PORT for local use, or {KEYS_HINT}",
        )


def start_authenticator(context, keys: CurveKeys):
    """A ZAP authenticator on ``context`` admitting only the allow-listed client keys; call ``.stop()``."""
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(context, log=logger)
    auth.start()
    auth.configure_curve(domain="*", location=str(keys.authorized_clients))
    return auth


class AuthorizedKeys:
    """The allow-list the ZAP authenticator admits, reloaded when ``authorized_clients/`` changes.

    Adding or removing a ``.key`` file takes effect without a restart: new connections are checked by the
    authenticator, and the server asks :meth:`allows` for every request, so a connection made with a key
    that has since been removed is refused too.
    """

    def __init__(self, authenticator, folder: Path):
        self._auth = authenticator
        self.folder = Path(folder)
        self._signature = self._read_signature()

    def _read_signature(self) -> tuple:
        try:
            return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self.folder.glob("*.key")))
        except OSError:
            return ()

    def allows(self, public_key_z85: bytes) -> bool:
        return public_key_z85 in self._auth.certs.get("*", {})

    def reload_if_changed(self) -> bool:
        """Re-read the folder when a key file was added, removed or changed; True when it was."""
        signature = self._read_signature()
        if signature == self._signature:
            return False
        self._signature = signature
        self._auth.configure_curve(domain="*", location=str(self.folder))
        logger.info("authorized client keys reloaded from %s: %d key(s)", self.folder,
                    len(self._auth.certs.get("*", {})))
        return True


def make_curve_server(socket, keys: CurveKeys) -> None:
    """Turn ``socket`` into a CURVE server; must happen before ``bind``."""
    import zmq

    socket.setsockopt(zmq.CURVE_PUBLICKEY, keys.public_key)
    socket.setsockopt(zmq.CURVE_SECRETKEY, keys.secret_key)
    socket.setsockopt(zmq.CURVE_SERVER, 1)
