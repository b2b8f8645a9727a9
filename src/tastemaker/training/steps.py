"""The progress reports of a train job: its stages, one :class:`Step` per report.

Kept apart from :mod:`.job` so that what renders or records progress (the CLI bar, the
train-job documents of :mod:`.train_jobs`) does not import the trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: The stages of :func:`tastemaker.training.job.train`, in order (``evaluate`` is skipped with ``evaluate=False``).
STAGES = ("snapshot", "interactions", "evaluate", "fit", "register")


@dataclass(frozen=True)
class Step:
    """One progress report of :func:`~tastemaker.training.job.train`: the stage it belongs to and what happens.

    A stage's first report has ``begins=True``; reports within a stage (a member fit of
    the hybrid, a metric) follow with ``begins=False``. ``number`` of ``total`` counts the
    stages this run goes through (4 without evaluation). The library never prints: the
    caller renders steps (the CLI as numbered stage lines). ``str(step)`` reads as a line.
    """

    stage: str
    message: str
    begins: bool = False
    number: int = 1
    total: int = len(STAGES)

    def __str__(self) -> str:
        return f"{self.stage}: {self.message}"


Progress = Callable[[Step], None]
