"""The data-diet pipeline: pretrain → score → prune → retrain → report, each stage resumable.

The training-dynamics analyses ``offset_sweep``, ``error_barrier`` and ``ntk_velocity`` run
between retrain and report when named in ``config.stages``; the report adds their sections.

A stage that finishes writes ``stages/<stage>.done``; a relaunch skips finished stages, and an
interrupted stage resumes where it stopped (its per-item outputs are written atomically and
skipped when present). A finished stage runs again, keeping what it finds and computing what is
missing, after a change of config (``--continue_with_changed_config``), when it owes an output
(a scoring step's checkpoint moved aside), or after an earlier stage ran again.
``config.stages`` selects which stages run.

Example::

  python launch.py --config configs/default.py --workdir /tmp/dd
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ml_collections

from datadiet import errors
from datadiet.stages import (error_barrier, ntk_velocity, offset_sweep, pretrain_and_score, prune,
                             report, retrain)
from datadiet.stages.context import Context


# The training-dynamics analyses: each module has NAME, check(ctx, num_train) and the stage.
ANALYSES = (offset_sweep, error_barrier, ntk_velocity)

STAGES: dict[str, Callable[[Context], None]] = {
    'pretrain': pretrain_and_score.pretrain,
    'score': pretrain_and_score.score,
    'prune': prune.prune,
    'retrain': retrain.retrain,
    # Training dynamics (the paper's section 5); each needs pretrain and score.
    offset_sweep.NAME: offset_sweep.offset_sweep,
    error_barrier.NAME: error_barrier.error_barrier,
    ntk_velocity.NAME: ntk_velocity.ntk_velocity,
    'report': report.report,
}


# Stages that can owe an output after finishing (its file moved aside, or asked for by a changed
# config): checked on relaunch, and the stage re-opened if so.
COMPLETE: dict[str, Callable[[Context], bool]] = {
    'pretrain': pretrain_and_score.pretrain_complete,
    'score': pretrain_and_score.score_complete,
}


def check_stages(stages) -> None:
  """Raises an InputError naming the valid stages if any is unknown."""
  unknown = sorted(set(stages) - set(STAGES))
  if unknown:
    raise errors.InputError(f'Unknown stages {unknown}; valid stages: {", ".join(STAGES)}.')


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> Context:
  """Runs the selected stages in pipeline order, skipping those already done."""
  check_stages(config.stages)
  ctx = Context(config, Path(workdir))
  for name, stage in STAGES.items():
    if name in config.stages:
      ctx.run_stage(name, stage, COMPLETE.get(name))
  return ctx
