"""MACE-Dance Studio generation backend: music -> motion -> video, served over ZeroMQ."""

__version__ = "0.1.0"
