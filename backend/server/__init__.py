"""The generation backend's ZeroMQ server.

``router.BackendServer`` owns the ROUTER socket, answers ``hello``/``status``/``cancel`` and sends heartbeats
from its I/O thread; ``jobs.JobWorker`` runs one job at a time on its own thread; ``handlers`` turns request
payloads into generator/renderer calls and results back into payloads; ``media`` checks audio and images
before work starts; ``security`` guards non-loopback binds with CURVE keys. Wire format: ``shared.protocol``.
"""

from .jobs import ServerLimits
from .router import BackendServer, serve_until_signalled

__all__ = ["BackendServer", "ServerLimits", "serve_until_signalled"]
