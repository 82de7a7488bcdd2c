"""The data-diet pipeline: pretrain → score → prune → retrain → report, each stage resumable.

A stage that finishes writes ``stages/<stage>.done``; a relaunch skips finished stages, and an
interrupted stage resumes where it stopped (its per-item outputs are written atomically and
skipped when present). ``config.stages`` selects which stages run.

Example::

  python launch.py --config configs/default.py --workdir /tmp/dd
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import ml_collections
from absl import logging

from datadiet import errors
from datadiet.stages import pretrain_and_score, prune, report, retrain
from datadiet.stages.context import Context, write_json_atomic


STAGES: dict[str, Callable[[Context], None]] = {
    'pretrain': pretrain_and_score.pretrain,
    'score': pretrain_and_score.score,
    'prune': prune.prune,
    'retrain': retrain.retrain,
    'report': report.report,
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
    if name not in config.stages:
      continue
    marker = ctx.workdir / 'stages' / f'{name}.done'
    if marker.exists():
      logging.info('Stage %s is done; skipping it.', name)
      continue
    start = time.perf_counter()
    logging.info('Stage %s: starting.', name)
    stage(ctx)
    seconds = time.perf_counter() - start
    write_json_atomic(marker, {'seconds': seconds})
    logging.info('Stage %s: done in %.0fs.', name, seconds)
  return ctx
