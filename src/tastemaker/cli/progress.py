"""How the CLI shows long work: tqdm bars with totals, numbered stage lines for training.

Everything goes to stderr, so stdout stays the command's result (scripts parse it), and
nothing is shown with ``--quiet`` / ``TASTEMAKER_NO_PROGRESS=1``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

from tastemaker.training.job import Step

STAGE_TITLES = {"snapshot": "snapshot of the event log", "interactions": "interaction matrix",
                "evaluate": "evaluate", "fit": "fit", "register": "register"}


def bar(total: int | None, desc: str, unit: str = "rows", *, quiet: bool = False, scale: bool = True) -> tqdm:
    """A progress bar on stderr (a no-op object with ``quiet``); ``scale``: 1.2M rather than 1200000."""
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=scale, file=sys.stderr, disable=quiet,
                dynamic_ncols=True)


class StageLog:
    """Renders :class:`~tastemaker.training.job.Step` reports as numbered stage lines.

    ``train [3/5] evaluate: hybrid on a per-user random 75/25 split  [2.1s]`` when a stage
    begins, then indented notes (a member fit about to start, a metric), each with the
    seconds since the command started. Lines, not a redrawn bar: they read the same in a
    terminal, a CI log or a pipe.
    """

    def __init__(self, command: str = "train", *, quiet: bool = False, stream: Any = None):
        self.command = command
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()

    def __call__(self, step: Step) -> None:
        if self.quiet:
            return
        at = f"[{time.perf_counter() - self.started:.1f}s]"
        if step.begins:
            head = f"{self.command} [{step.number}/{step.total}] {STAGE_TITLES.get(step.stage, step.stage)}"
            print(f"{head}: {step.message}  {at}", file=self.stream, flush=True)
        else:
            print(f"    {step.message}  {at}", file=self.stream, flush=True)
