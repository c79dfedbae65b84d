"""What the Blender add-on and the generation backend both speak.

Pure Python + numpy (msgpack for the protocol, pyzmq lazily in the client): this package is bundled into
the Blender extension, so it never imports torch, bpy or the backend, and its modules import each other
relatively.
"""

__version__ = "0.1.0"
