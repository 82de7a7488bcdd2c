"""Stage 4: fresh models on every kept subset and on the full set, M seeds as one ensemble.

Each run lives in ``retrain/<subset>/`` (checkpoints, metrics) and ends by writing
``result.json`` with the per-seed test accuracy; a run with a result is skipped on relaunch, an
interrupted one resumes from its checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import ml_collections
import numpy as np
from absl import logging

from datadiet import config_checks, errors, models
from datadiet.data import dataset
from datadiet.reporting import plots
from datadiet.stages import prune as prune_stage
from datadiet.stages.context import Context
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage
from datadiet.train import ensemble, loop, optim
from datadiet.train.lookahead import Lookahead

FULL = plots.FULL  # The run on the whole training set.


def runs(ctx: Context) -> list[str]:
  """Subset names to retrain on, the full training set first."""
  return [FULL] + [entry['name'] for entry in prune_stage.subset_plan(ctx)]


def check_seeds(ctx: Context) -> None:
  """The retraining seeds (also the offset sweep's): distinct, split the batch over the devices,
  and none of them a scoring seed."""
  config = ctx.config
  config_checks.seeds('retrain.seeds', config.retrain.seeds)
  shared = sorted(set(config.pretrain.seeds) & set(config.retrain.seeds))
  if shared:
    raise errors.InputError(
        f'config.retrain.seeds shares {shared} with config.pretrain.seeds: a retrained model '
        'would start from the very initialisation that chose its subset; give retraining seeds '
        'of their own.')
  ensemble.make_mesh(len(config.retrain.seeds), config.optim.batch_size)
  models.from_config(config, ctx.data.num_classes, model_name(ctx))


def model_name(ctx: Context) -> str:
  """The architecture retrained: ``retrain.model``, by default the scoring one."""
  return ctx.config.retrain.model or ctx.config.model.name


def retraining_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """``config`` as the retraining seeds train: ``optim.budget`` replaced by
  ``retrain.budget_steps`` steps when that is set (the scoring seeds keep ``optim``'s)."""
  steps = config.retrain.get('budget_steps', None)
  if steps is None:
    return config
  return optim.with_fields(config, budget=int(steps), budget_unit='steps')


def validated(ctx: Context, directory: Path, entry: dict,
              keep_positions: Callable[[], np.ndarray],
              validation_split: dict[str, np.ndarray]) -> dict:
  """``entry`` with the retraining seeds' validation and test accuracy after training on
  ``keep_positions()`` (the analyses that choose a setting on held-out data): trained into
  ``directory`` the first time, read from its ``result.json`` after."""

  def train():
    model = model_name(ctx)
    trained = loop.train_ensemble(
        retraining_config(ctx.config), directory, ctx.data, seeds=list(ctx.config.retrain.seeds),
        keep_positions=keep_positions(), labels=ctx.train_labels, model_name=model,
        eval_splits={'validation': validation_split})
    return dict(entry, model=model, seeds=trained.seeds, steps=trained.num_steps,
                validation_accuracy=trained.evaluations['validation']['accuracy'].tolist(),
                test_accuracy=trained.test['accuracy'].tolist())

  return ctx.once(directory / 'result.json', train)


def check(ctx: Context, num_train: int) -> None:
  del num_train
  check_seeds(ctx)
  check_budget(ctx.config)


def check_budget(config: ml_collections.ConfigDict) -> None:
  """``retrain.budget_steps``, when set: a positive number of steps that the recipe's
  fixed-step events (lookahead's cadence) fit in."""
  steps = config.retrain.get('budget_steps', None)
  if steps is None:
    return
  config_checks.positive(config, ('retrain.budget_steps',))
  retraining = retraining_config(config)
  optim.make_optimizer(retraining, steps)
  Lookahead.from_config(retraining, steps)


def retrain(ctx: Context) -> None:
  names = runs(ctx)
  done = sum((ctx.retrain_dir / name / 'result.json').exists() for name in names)
  if done:
    logging.info('Retraining: %d of %d subsets done (read back); training the other %d.', done,
                 len(names), len(names) - done)
  for name in names:
    ctx.once(ctx.retrain_dir / name / 'result.json', lambda name=name: _train(ctx, name))


def _train(ctx: Context, name: str) -> dict:
  """Trains the retraining seeds on subset ``name``; returns its result record."""
  if name == FULL:
    positions, meta = None, dict(name=FULL, method=FULL, score=None, step=None,
                                 score_model=None, fraction_pruned=0.0,
                                 size=len(ctx.data.train['label']))
  else:
    ids, meta = prune_stage.load_subset(ctx, name)
    if ids.ndim == 2 and meta['seeds'] != list(ctx.config.retrain.seeds):
      raise errors.InputError(f'Subset {name} was drawn for retraining seeds {meta["seeds"]}, '
                              f'not {list(ctx.config.retrain.seeds)}; use a new --workdir.')
    positions = (np.stack([dataset.positions_of(ctx.data.train, row) for row in ids])
                 if ids.ndim == 2 else dataset.positions_of(ctx.data.train, ids))
  model = model_name(ctx)  # Transfer: score with one architecture, train another.
  result = loop.train_ensemble(retraining_config(ctx.config), ctx.retrain_dir / name, ctx.data,
                               seeds=list(ctx.config.retrain.seeds), keep_positions=positions,
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


STAGE = STAGES.register(Stage(
    'retrain', retrain, reads=('data', 'model', 'optim', 'prune', 'retrain'), check=check,
    outputs=('retrain/*/result.json',)))
