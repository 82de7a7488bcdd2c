"""Stage 4: fresh models on every kept subset and on the full set, M seeds as one ensemble.

Each run lives in ``retrain/<subset>/`` (checkpoints, metrics) and ends by writing
``result.json`` with the per-seed test accuracy; a run with a result is skipped on relaunch, an
interrupted one resumes from its checkpoints.
"""

from __future__ import annotations

import json

from datadiet.data import sources
from datadiet.stages import prune as prune_stage
from datadiet.stages.context import Context
from datadiet.train import loop

FULL = 'full'


def runs(ctx: Context) -> list[str]:
  """Subset names to retrain on, the full training set first."""
  return [FULL] + [entry['name'] for entry in prune_stage.subset_plan(ctx)]


def retrain(ctx: Context) -> None:
  for name in runs(ctx):
    ctx.once(ctx.retrain_dir / name / 'result.json', lambda name=name: _train(ctx, name))


def _train(ctx: Context, name: str) -> dict:
  """Trains the retraining seeds on subset ``name``; returns its result record."""
  if name == FULL:
    positions, meta = None, dict(name=FULL, method=FULL, score=None, step=None,
                                 score_model=None, fraction_pruned=0.0,
                                 size=len(ctx.data.train['label']))
  else:
    ids, meta = prune_stage.load_subset(ctx, name)
    positions = sources.positions_of(ctx.data.train, ids)
  model = ctx.config.retrain_model or ctx.config.model  # Transfer: score with one, train another.
  result = loop.train_ensemble(ctx.config, ctx.retrain_dir / name, ctx.data,
                               seeds=list(ctx.config.retrain_seeds), keep_positions=positions,
                               labels=ctx.train_labels, model_name=model)
  return dict(meta, model=model, seeds=result.seeds, steps=result.num_steps,
              test_accuracy=[float(a) for a in result.test['accuracy']],
              test_loss=[float(x) for x in result.test['loss']])


def load_results(ctx: Context) -> list[dict]:
  """One row per (subset, seed) from every finished retraining run."""
  rows = []
  for name in runs(ctx):
    result = json.loads((ctx.retrain_dir / name / 'result.json').read_text())
    for seed, accuracy, loss in zip(result['seeds'], result['test_accuracy'],
                                    result['test_loss']):
      rows.append(dict(subset=name, model=result['model'], method=result['method'],
                       score=result['score'], score_model=result.get('score_model'),
                       step=result['step'], fraction_pruned=result['fraction_pruned'],
                       size=result['size'], seed=seed, steps=result['steps'],
                       test_accuracy=accuracy, test_loss=loss))
  return rows
