"""The data-diet pipeline: pretrain → score → prune → retrain → [analyses] → report.

This module is the pipeline's story: which stage runs, which is skipped, which runs again, and
why. The stages are those of :mod:`datadiet.stages.registry`, in its order; ``config.stages``
selects which run. The analyses (``offset_sweep``, ``ccs_cutoff_sweep``, ``budget_sweep``,
``error_barrier``, ``ntk_velocity``) run between retrain and report when named there; the
report adds their sections.

* A stage that finishes writes ``stages/<stage>.done`` (its time and the digest of the config
  blocks it reads). A relaunch skips it.
* A stage that was interrupted has no marker: it runs again and resumes where it stopped (its
  per-item outputs are written atomically and skipped when present).
* A finished stage runs again, keeping what it finds and computing what is missing, when
  1. the config blocks it reads changed (``--continue_with_changed_config``),
  2. an earlier stage ran again in this launch (its new outputs flow on), or
  3. it owes an output (its ``complete`` says one is missing: a scoring step's checkpoint moved
     aside).
* An analysis that reads the scores of other experiments (its label-noise levels, each in its
  own directory) has them pretrained and scored first, as stages of those experiments.

Example::

  python launch.py --config configs/default.py --workdir /tmp/dd
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import ml_collections
from absl import logging

from datadiet import atomic_files, device_memory
from datadiet import workdir as workdirs
from datadiet.stages import registry
from datadiet.stages.context import Context
from datadiet.stages.protocol import Stage


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> Context:
  """Runs the selected stages in pipeline order, skipping those already done."""
  ctx = Context(config, Path(workdir))
  for stage in registry.configured(config.stages):
    for scored in stage.reads_scores_of(ctx) if stage.reads_scores_of else ():
      ensure_scored(scored)
    run_stage(ctx, stage)
  return ctx


def ensure_scored(ctx: Context) -> None:
  """Pretrains and scores ``ctx`` unless done: the experiments an analysis reads (for the run
  itself these stages are normally done already). Those stages were settled before the analysis
  began, so an earlier stage that ran again is no reason to run them again; new checkpoints
  flow on into the scores."""
  pretrained = run_stage(ctx, registry.STAGES['pretrain'], after_earlier=False)
  run_stage(ctx, registry.STAGES['score'], after_earlier=pretrained)


def run_stage(ctx: Context, stage: Stage, after_earlier: bool = True) -> bool:
  """Runs ``stage`` unless ``stages/<name>.done`` says it finished (see the module docstring for
  when a finished one runs again; ``after_earlier`` is reason 2); writes that marker. Returns
  whether it ran."""
  name = stage.name
  marker = ctx.workdir / 'stages' / f'{name}.done'
  digest = workdirs.results_digest(ctx.config, stage.reads)
  if marker.exists():
    recorded = json.loads(marker.read_text()).get('config')
    why = ('the config changed' if recorded not in (None, digest) else
           'an earlier stage ran again' if ctx.reopened and after_earlier else
           'an output it owes is missing' if stage.complete is not None
           and not stage.complete(ctx) else None)
    if why is None:
      logging.info('Stage %s is done; skipping it.', name)
      return False
    logging.info('Stage %s is done but runs again (%s); it reuses every output its settings '
                 'still hold.', name, why)
    ctx.reopened = True
  start = time.perf_counter()
  logging.info('Stage %s: starting.', name)
  with device_memory.one_line_if_out_of_memory(ctx.config, name):
    stage.run(ctx)
  seconds = time.perf_counter() - start
  atomic_files.write_json(marker, {'seconds': seconds, 'config': digest})
  logging.info('Stage %s: done in %.0fs.', name, seconds)
  return True
