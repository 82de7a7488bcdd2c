"""What every stage of the pipeline is: a name, what it checks, runs, reads and writes.

A :class:`Stage` is registered once in :mod:`datadiet.stages.registry`, in pipeline order; the
pipeline (:mod:`datadiet.experiment`), preflight, the workdir binding and the run digest iterate
that registry, so adding a stage is its module, one registration line and its test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from datadiet.stages.context import Context


def _nothing_to_check(ctx: Context, num_train: int) -> None:
  del ctx, num_train


@dataclasses.dataclass(frozen=True)
class Stage:
  """One stage of the pipeline."""
  name: str
  run: Callable[[Context], None]
  # The config blocks (or dotted fields) its results depend on: they bind the workdir when the
  # stage is configured, and a change of one re-runs the stage (``runtime`` never does).
  reads: tuple[str, ...]
  # Refuses a config this stage cannot run, before anything is written: called by preflight
  # with a planning context (``ctx.workdir`` is None) and the number of training examples.
  check: Callable[[Context, int], None] = _nothing_to_check
  # Its result files, as glob patterns relative to the workdir: what the run digest hashes.
  outputs: tuple[str, ...] = ()
  # Whether every output it owes exists (None: a finished stage owes nothing); a finished stage
  # that owes one runs again on relaunch.
  complete: Callable[[Context], bool] | None = None
  # Refuses a config that what an existing workdir already holds rules out (read only; called
  # before the workdir is claimed, so a refusal changes nothing there).
  check_workdir: Callable[[Context], None] | None = None
  # The experiments whose pretraining and scores it reads (its own, or one per label-noise
  # level): the pipeline pretrains and scores each first (None: it reads none, or is one of those
  # stages itself).
  reads_scores_of: Callable[[Context], list[Context]] | None = None
  # Whether it runs on streamed data (``input_pipeline='stream'``: images read from disk by
  # position); False for stages that hold the training images in memory.
  streams: bool = True
