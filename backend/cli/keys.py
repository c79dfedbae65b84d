"""``mace-dance keys``: make a CURVE key pair for a backend reachable from other machines."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="create CURVE keys for a non-local backend",
        description="Write a ZeroMQ CURVE key pair NAME.key (public) and NAME.key_secret (secret) into DIR. "
        "For the backend: `mace-dance keys DIR` (NAME server), then `mace-dance serve --address tcp://0.0.0.0:7557 "
        "--curve-keys DIR`. For each client: `mace-dance keys CLIENT_DIR --name animator`, copy animator.key into "
        "the backend's DIR/authorized_clients/ and give the client DIR/server.key and its own animator.key_secret.",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder to write the keys into")
    parser.add_argument("--name", default="server", help="file name of the pair (default: server)")
    parser.add_argument("--force", action="store_true", help="replace an existing pair of that name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import zmq.auth

    from shared.errors import InvalidInputError

    if not args.name or Path(args.name).name != args.name or args.name.startswith("."):
        raise InvalidInputError(f"--name must be a plain file name, got {args.name!r}")
    folder = args.dir.expanduser()
    existing = [p for p in (folder / f"{args.name}.key", folder / f"{args.name}.key_secret") if p.exists()]
    if existing and not args.force:
        raise InvalidInputError(f"{existing[0]} already exists",
                                "pass --force to replace it (clients holding the old public key lose access)")
    folder.mkdir(parents=True, exist_ok=True)
    if args.name == "server":
        (folder / "authorized_clients").mkdir(exist_ok=True)
    public, secret = zmq.auth.create_certificates(folder, args.name)
    Path(secret).chmod(0o600)
    print(f"public key: {public}  (give this to the other side)")
    print(f"secret key: {secret}  (keep this private)")
    if args.name == "server":
        print(f"put the clients' public .key files in {folder / 'authorized_clients'}")
    return 0
