"""The generation backend's ZeroMQ server.

``router.BackendServer`` owns the ROUTER socket, answers ``hello``/``status``/``cancel``, sends heartbeats,
keeps each client to its share of the queue and cancels the jobs of clients gone silent, all from its I/O
thread; ``admission`` decodes large requests and writes and checks uploads on a bounded worker, so that
thread never does; ``ownership`` says whose a job is (CURVE key or ``hello`` token) and where its owner can be
reached; ``jobs.JobWorker`` runs one job at a time on its own thread; ``handlers`` checks every field of a
request and turns it into generator/renderer calls, and results back into payloads; ``media`` decodes uploaded
music and photos in child processes with a budget before work starts; ``security`` guards non-loopback binds
with CURVE keys and reloads the allow-list. Wire format (and its decoding limits): ``shared.protocol``.
"""

from .jobs import ServerLimits
from .router import BackendServer, serve_until_signalled

__all__ = ["BackendServer", "ServerLimits", "serve_until_signalled"]
