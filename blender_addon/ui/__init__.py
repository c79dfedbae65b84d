"""Sidebar panels (3D View › N-panel › Dance)."""

from .panel import (MACE_PT_dance, MACE_PT_dance_backend, MACE_PT_dance_render, MACE_PT_dance_retarget,
                    MACE_PT_dance_takes)

CLASSES = (MACE_PT_dance, MACE_PT_dance_takes, MACE_PT_dance_retarget, MACE_PT_dance_render, MACE_PT_dance_backend)
