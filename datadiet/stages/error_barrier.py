"""Stage ``error_barrier``: linear mode connectivity of children spawned at step t*, measured on
the hardest, the easiest and random training examples.

One parent network (``parent_seed``) trains to the last spawn step, checkpointing every spawn
step t*. From each t*, two children start from the parent's full state (weights, BatchNorm
statistics, optimizer momentum and step, so the learning-rate schedule carries on) and train to
the end of the budget with independent data orders and augmentations (``child_seeds``). Along
the straight line α w + (1 − α) w′ between them, each network's BatchNorm statistics are
recomputed from ``bn_batches`` batches of training images (:func:`datadiet.dynamics.lmc.
recompute_batch_stats`, the children's own statistics included, so every α is measured the
same way), and its training error and mean loss are measured on three sets of
``num_examples`` training examples: the highest scores, the lowest scores and a random draw
(labels as trained on). The barrier is ``max_α err(α) − (α err(1) + (1 − α) err(0))``, with the
α = ½ proxy beside it; the same on the loss (the *loss barrier*) still separates the subsets
when a small network fits all of them and the error barrier is 0 throughout.

The paper's finding: the barrier vanishes at an earlier t* on the easy examples than on the
hard ones. Outputs: ``error_barrier/spawn_<t>/`` (the children's run and ``errors.json``), and
in the workdir ``error_barrier.csv`` (one row per t* × subset), ``error_barrier.json`` (with the
error and loss along α), ``error_barrier.png`` and ``error_barrier.md``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from datadiet import atomic_files, errors, models, multihost
from datadiet.dynamics import lmc
from datadiet.scores import softmax_cross_entropy
from datadiet.reporting import error_barrier as presentation
from datadiet.reporting import tables
from datadiet.stages import pretrain_and_score
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage
from datadiet.stages.context import Context
from datadiet.train import checkpoints, ensemble, loop, optim

NAME = 'error_barrier'
SUBSETS = presentation.SUBSETS


def check(ctx: Context, num_train: int) -> None:
  """Raises an InputError for an analysis this config cannot run."""
  config, analysis = ctx.config, ctx.config.analyses.error_barrier
  total = optim.total_steps(config, num_train)
  if not analysis.spawn_steps or any(not 0 <= t < total for t in analysis.spawn_steps):
    raise errors.InputError(
        f'config.analyses.error_barrier.spawn_steps {list(analysis.spawn_steps)} must be '
        f'non-empty and in [0, {total}) (the run trains {total} steps).')
  if len(set(analysis.child_seeds)) != 2:
    raise errors.InputError(
        f'config.analyses.error_barrier.child_seeds must be two different seeds, got '
        f'{list(analysis.child_seeds)}.')
  if not 0 < analysis.num_examples <= num_train:
    raise errors.InputError(
        f'config.analyses.error_barrier.num_examples must be in [1, {num_train}], got '
        f'{analysis.num_examples}.')
  if analysis.bn_batches < 1:
    raise errors.InputError('config.analyses.error_barrier.bn_batches must be at least 1.')
  try:
    lmc.error_barrier(analysis.alphas, np.zeros(len(analysis.alphas)))
  except ValueError as e:
    raise errors.InputError(f'config.analyses.error_barrier.alphas: {e}') from e
  pretrain_and_score.check_computed(ctx, f'config.analyses.{NAME} ranks by', analysis.score,
                                    analysis.step)


def example_subsets(ctx: Context) -> dict[str, np.ndarray]:
  """Positions of the ``num_examples`` highest-score, lowest-score and random examples."""
  analysis = ctx.config.analyses.error_barrier
  scores = ctx.mean_score(analysis.score, analysis.step)
  hardest_first = np.argsort(-scores, kind='stable')
  n = analysis.num_examples
  rng = np.random.default_rng(analysis.subset_seed)
  return {'highest': np.sort(hardest_first[:n]), 'lowest': np.sort(hardest_first[-n:]),
          'random': np.sort(rng.permutation(len(scores))[:n])}


def _bn_images(ctx: Context) -> list[np.ndarray]:
  """Fixed, equal-sized batches of normalised (un-augmented) training images for BatchNorm
  statistics: ``bn_batches`` of ``batch_size``, fewer if the training set is smaller."""
  analysis, images = ctx.config.analyses.error_barrier, ctx.normalized_train_images
  size = min(ctx.config.optim.batch_size, len(images))
  count = max(1, min(analysis.bn_batches, len(images) // size))
  chosen = np.random.default_rng(analysis.subset_seed + 1).permutation(len(images))
  return np.split(images[np.sort(chosen[:count * size])], count)


@functools.partial(jax.jit, static_argnums=0)  # Compiled once per model, not per spawn step.
def _wrong_and_loss(model, params, batch_stats, constants, images, labels):
  logits = model.apply(ensemble.model_variables(params, batch_stats, constants), images, train=False)
  return (jnp.sum(jnp.argmax(logits, -1) != labels),
          jnp.sum(softmax_cross_entropy(logits, labels)))


def along_line(ctx: Context, params: list, batch_stats: list,
               subsets: dict[str, np.ndarray],
               constants: Any = None) -> dict[str, dict[str, list[float]]]:
  """Training error and mean loss on each subset of every network ``α·params[0] + (1 − α)·
  params[1]`` for α in the config's grid: ``{subset: {'error': [...], 'loss': [...]}}``.
  ``constants`` (the model's, fitted to data) are the two children's, which they share with
  their parent."""
  constants = constants or {}
  config = ctx.config
  # Statistics are recomputed outside the training mesh: the model normalises per batch.
  model = models.from_config(config, num_classes=ctx.data.num_classes)
  bn_images = _bn_images(ctx)
  out = {name: {'error': [], 'loss': []} for name in subsets}
  for alpha in config.analyses.error_barrier.alphas:
    mixed = lmc.interpolate(params[0], params[1], float(alpha))
    if config.analyses.error_barrier.recompute_batch_stats:
      stats = batch_stats[0]
      if jax.tree.leaves(stats):  # Models without BatchNorm have nothing to recompute.
        stats = lmc.recompute_batch_stats(model, mixed, stats, bn_images, constants)
    else:  # The naive line: running statistics interpolated like the weights.
      stats = lmc.interpolate(batch_stats[0], batch_stats[1], float(alpha))
    for name, positions in subsets.items():
      wrong = loss = 0.0
      for start in range(0, len(positions), config.runtime.eval_batch_size):
        chunk = positions[start:start + config.runtime.eval_batch_size]
        chunk_wrong, chunk_loss = _wrong_and_loss(model, mixed, stats, constants,
                                                  ctx.normalized_train_images[chunk],
                                                  ctx.train_labels[chunk])
        wrong, loss = wrong + float(chunk_wrong), loss + float(chunk_loss)
      out[name]['error'].append(wrong / len(positions))
      out[name]['loss'].append(loss / len(positions))
  return out


def _children(ctx: Context, spawn_step: int, parent_like: Any,
              subsets: dict[str, np.ndarray]) -> dict:
  """Trains (or resumes) the two children spawned at ``spawn_step`` from the parent's
  checkpoint (restored like ``parent_like``); returns their errors and losses on ``subsets``."""
  directory = ctx.workdir / NAME / f'spawn_{spawn_step}'
  path = directory / 'errors.json'
  if path.exists():
    record = json.loads(path.read_text())
    if record.get('measured_with') == _measurement(ctx):
      return record
    # Measured with other settings (a changed analysis block): the children are trained already
    # (their run resumes at its end), so only the line is measured again.
    logging.info('Error barrier at t* = %d: measuring again with %s.', spawn_step,
                 _measurement(ctx))
  record = _train_children(ctx, spawn_step, directory, parent_like, subsets)
  atomic_files.write_json(path, record)
  return json.loads(path.read_text())


def _measurement(ctx: Context) -> dict:
  """The settings the curves along the line depend on (not the children's training)."""
  analysis = ctx.config.analyses.error_barrier
  return dict(score=analysis.score, step=ctx.score_step(analysis.step),
              num_examples=analysis.num_examples, subset_seed=analysis.subset_seed,
              alphas=[float(a) for a in analysis.alphas], bn_batches=analysis.bn_batches,
              recompute_batch_stats=bool(analysis.recompute_batch_stats))


def _train_children(ctx: Context, spawn_step: int, directory: Path, parent_like: Any,
                    subsets: dict[str, np.ndarray]) -> dict:
  analysis = ctx.config.analyses.error_barrier
  parent_state = checkpoints.restore(
      checkpoints.manager(ctx.workdir / NAME / 'parent' / 'checkpoints'), spawn_step,
      parent_like)
  twins = jax.tree.map(lambda x: np.concatenate([x, x]), multihost.to_host(parent_state))
  result = loop.train_ensemble(ctx.config, directory, ctx.data, seeds=list(analysis.child_seeds),
                               labels=ctx.train_labels, initial_state=twins)
  host = multihost.to_host(result.state)
  unstack = lambda tree: [jax.tree.map(lambda x, k=k: x[k], tree) for k in range(2)]  # noqa: E731
  along = along_line(ctx, unstack(host.params), unstack(host.batch_stats), subsets,
                     unstack(host.constants)[0])
  alphas = [float(a) for a in analysis.alphas]
  record = dict(spawn_step=spawn_step, seeds=list(analysis.child_seeds), alphas=alphas,
                child_test_accuracy=result.test['accuracy'].tolist(), subsets={},
                measured_with=_measurement(ctx))
  for name, curves in along.items():
    record['subsets'][name] = dict(
        errors=curves['error'], losses=curves['loss'],
        barrier=lmc.error_barrier(alphas, curves['error']),
        barrier_at_half=_at_half(alphas, curves['error']),
        loss_barrier=lmc.error_barrier(alphas, curves['loss']),
        loss_barrier_at_half=_at_half(alphas, curves['loss']))
  return record


def _at_half(alphas: list[float], values: list[float]) -> float | None:
  """The α = ½ proxy: ``v(½) − (v(0) + v(1)) / 2`` (``None`` if ½ is not on the grid)."""
  at = dict(zip(alphas, values))
  return at[0.5] - (at[0.0] + at[1.0]) / 2 if 0.5 in at else None


def error_barrier(ctx: Context) -> None:
  """The stage: parent, children at every spawn step, barriers, table, plot and section."""
  analysis = ctx.config.analyses.error_barrier
  spawn_steps = sorted(set(analysis.spawn_steps))
  parent = loop.train_ensemble(ctx.config, ctx.workdir / NAME / 'parent', ctx.data,
                               seeds=[analysis.parent_seed], labels=ctx.train_labels,
                               checkpoint_steps=tuple(spawn_steps),
                               stop_step=max(max(spawn_steps), 1))
  subsets = example_subsets(ctx)
  records = [_children(ctx, t, parent.state, subsets) for t in spawn_steps]
  for record in records:  # Frankle et al.'s form beside the paper's (errors.json has the curves).
    for s in record['subsets'].values():
      s['barrier_above_endpoint_mean'] = lmc.barrier_above_endpoint_mean(record['alphas'],
                                                                         s['errors'])
      s['loss_barrier_above_endpoint_mean'] = lmc.barrier_above_endpoint_mean(
          record['alphas'], s['losses'])
  rows = [dict(spawn_step=r['spawn_step'], subset=name, num_examples=analysis.num_examples,
               barrier=s['barrier'], barrier_at_half=s['barrier_at_half'],
               barrier_above_endpoint_mean=s['barrier_above_endpoint_mean'],
               error_child_0=s['errors'][r['alphas'].index(1.0)],
               error_child_1=s['errors'][r['alphas'].index(0.0)],
               loss_barrier=s['loss_barrier'], loss_barrier_at_half=s['loss_barrier_at_half'])
          for r in records for name, s in r['subsets'].items()]
  tables.write_csv(ctx.workdir / f'{NAME}.csv', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}.json', records)
  presentation.plot(records, ctx.workdir / f'{NAME}.png')
  tables.write_markdown_section(ctx.workdir, NAME, presentation.markdown(
      rows, analysis, ctx.score_step(analysis.step),
      optim.total_steps(ctx.config, len(ctx.data.train['label']))))


STAGE = STAGES.register(Stage(
    NAME, error_barrier, reads=(*pretrain_and_score.READS, f'analyses.{NAME}'), check=check,
    outputs=(f'{NAME}/*/errors.json', f'{NAME}.json', f'{NAME}.csv', f'{NAME}.md'),
    streams=False))
