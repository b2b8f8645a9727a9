"""How the CLI shows long work: tqdm bars with totals; for training, numbered stage lines above
a bar over the stages.

Everything goes to stderr, so stdout stays the command's result (scripts parse it), and
nothing is shown with ``--quiet`` / ``TASTEMAKER_NO_PROGRESS=1``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

from tastemaker.training.steps import Step

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
            self._emit(f"{head}: {step.message}  {at}")
        else:
            self._emit(f"    {step.message}  {at}")

    def _emit(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class StageBar(StageLog):
    """:class:`StageLog`'s lines, with a tqdm bar below them over the stages.

    The bar counts finished stages (``total`` = the run's stages); its description is the
    current stage and its latest message. Lines go through ``tqdm.write`` so the bar stays
    the last line. Use it as a context manager: leaving without an error fills the bar.
    Nothing is shown with ``quiet``.
    """

    DESCRIPTION_WIDTH = 48  # a long message (a member fit's parameters) must not push the bar off the line

    def __init__(self, command: str = "train", *, quiet: bool = False, stream: Any = None):
        super().__init__(command, quiet=quiet, stream=stream)
        self.bar: tqdm | None = None

    def __call__(self, step: Step) -> None:
        if self.quiet:
            return
        if self.bar is None:
            self.bar = tqdm(total=step.total, unit="stage", file=self.stream, dynamic_ncols=True,
                            bar_format="{desc} |{bar}| {n}/{total} stages [{elapsed}]")
        super().__call__(step)
        self.bar.total = step.total
        self.bar.n = max(self.bar.n, step.number - 1)  # the stages before this one are done
        text = f"{step.stage}: {step.message}"
        width = self.DESCRIPTION_WIDTH
        self.bar.set_description_str(text if len(text) <= width else text[:width - 1] + "…", refresh=False)
        self.bar.refresh()

    def _emit(self, line: str) -> None:
        tqdm.write(line, file=self.stream)

    def close(self, done: bool = False) -> None:
        """End the bar; ``done``: every stage finished."""
        if self.bar is None:
            return
        if done:
            self.bar.n = self.bar.total
        self.bar.refresh()
        self.bar.close()
        self.bar = None

    def __enter__(self) -> "StageBar":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(done=exc_type is None)
