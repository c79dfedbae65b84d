"""Engines for Ray workers in tests: slow, cancellable fakes built inside each worker process."""

from __future__ import annotations

from dataclasses import dataclass

from tests.server.server_fakes import StepGenerator


@dataclass(frozen=True)
class StepEngines:
    """``build(role, device)`` for ``RayWorkerPool``: a ``StepGenerator`` of ``steps`` x ``step_s`` seconds."""

    steps: int = 3
    step_s: float = 0.0

    def build(self, role: str, device: str):
        if role != "motion":
            raise AssertionError(f"these tests send no {role} jobs")
        return StepGenerator(steps=self.steps, step_s=self.step_s)
