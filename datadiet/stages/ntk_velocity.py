"""Stage ``ntk_velocity``: how fast the kernel of easy and hard examples moves during training.

The paper's "stable representation subspaces": sort the training examples by a score
(ascending: easiest first), cut the ranking into blocks of ``block_size`` contiguous examples,
and follow each block's empirical NTK Gram submatrix (logit-trace kernel, see
:mod:`datadiet.dynamics.ntk`) over the checkpoints of one network (``seed``, trained on the
run's labels, checkpoints at ``checkpoint_steps`` — the paper's are one epoch apart). A block's
velocity between consecutive checkpoints is the cosine distance of its Gram matrices. Computing
all N/B blocks is rarely affordable, so ``num_blocks`` blocks evenly spaced along the ranking are
followed (the first holds the lowest scores, the last the highest).

The paper's finding: velocity grows with the score at every epoch (the kernel of easy examples
settles first); with label noise it falls again for the very highest scores (the noisy labels).
Every level in ``label_noise_fractions`` is its own experiment (its own scores and network).

Gram matrices are computed in evaluation mode (BatchNorm with the checkpoint's running
statistics) and saved per checkpoint as ``ntk_velocity/gram@<step>-<blocks>x<B>-<score>.npz``
(resumable). Outputs in
the workdir: ``ntk_velocity.csv`` / ``.json`` (one row per noise level × consecutive checkpoint
pair × block), ``ntk_velocity.png`` (velocity against score rank, one line per checkpoint pair,
one panel per noise level) and ``ntk_velocity.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

from datadiet import atomic_files, errors, models, multihost
from datadiet.data import noise
from datadiet.dynamics import ntk
from datadiet.reporting import ntk_velocity as presentation
from datadiet.reporting import tables
from datadiet.stages import pretrain_and_score
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage
from datadiet.stages.context import Context
from datadiet.train import checkpoints, ensemble, loop, optim

NAME = 'ntk_velocity'


def check(ctx: Context, num_train: int) -> None:
  """Raises an InputError for an analysis this config cannot run."""
  analysis = ctx.config.analyses.ntk_velocity
  total = optim.total_steps(ctx.config, num_train)
  steps = sorted(set(analysis.checkpoint_steps))
  outside = [s for s in steps if not 0 <= s <= total]
  if outside:
    raise errors.InputError(
        f'config.analyses.ntk_velocity.checkpoint_steps {outside} lie outside the run\'s {total} '
        f'steps; give steps in [0, {total}].')
  if len(steps) < 2:
    raise errors.InputError(
        f'config.analyses.ntk_velocity.checkpoint_steps {list(analysis.checkpoint_steps)} '
        f'must hold at least two steps in [0, {total}].')
  if analysis.block_size < 1 or analysis.num_blocks < 1 or (
      analysis.block_size * analysis.num_blocks > num_train):
    raise errors.InputError(
        f'ntk_velocity: {analysis.num_blocks} blocks of {analysis.block_size} examples need '
        f'{analysis.num_blocks * analysis.block_size}, but the training set has {num_train}.')
  if analysis.method not in ntk.METHODS:
    raise errors.InputError(f'Unknown ntk_velocity.method {analysis.method!r}; valid: '
                            f'{", ".join(ntk.METHODS)}.')
  for fraction in analysis.label_noise_fractions:
    noise.check_fraction(fraction)
  pretrain_and_score.check_computed(ctx, f'config.analyses.{NAME} ranks by', analysis.score,
                                    analysis.step)


def blocks(scores: np.ndarray, block_size: int, num_blocks: int) -> np.ndarray:
  """``(num_blocks, block_size)`` positions: contiguous runs of the ascending ranking, starting
  at evenly spaced ranks from the lowest score to the highest."""
  order = np.argsort(scores, kind='stable')
  starts = np.round(np.linspace(0, len(scores) - block_size, num_blocks)).astype(int)
  return np.stack([order[s:s + block_size] for s in starts])


def gram_path(ctx: Context, step: int):
  """Where a checkpoint's Gram matrices are kept; named by the block layout, so a relaunch with
  other blocks computes its own instead of reading these."""
  analysis = ctx.config.analyses.ntk_velocity
  return (ctx.workdir / NAME /
          f'gram@{step}-{analysis.num_blocks}x{analysis.block_size}-{analysis.score}.npz')


@functools.partial(jax.jit, static_argnames=('model', 'method', 'chunk_size',
                                             'max_jacobian_bytes'))
def _block_gram(params, batch_stats, constants, images, *, model, method, chunk_size,
                max_jacobian_bytes):
  """One block's Gram matrix in evaluation mode; compiled once per model and block shape (the
  statistics are an argument, so every checkpoint reuses the program)."""
  logits_fn = lambda p, x: model.apply(ensemble.model_variables(p, batch_stats, constants), x,  # noqa: E731
                                       train=False)
  return ntk.block_gram(logits_fn, params, images, method=method, chunk_size=chunk_size,
                        max_jacobian_bytes=max_jacobian_bytes)


def _grams(ctx: Context, step: int, block_positions: np.ndarray, like: Any) -> np.ndarray:
  """The ``(num_blocks, B, B)`` Gram matrices at one checkpoint (computed once, then read); the
  checkpoint is restored like the state ``like``."""
  analysis = ctx.config.analyses.ntk_velocity
  path = gram_path(ctx, step)
  if path.exists():
    with np.load(path) as saved:
      if np.array_equal(saved['positions'], block_positions):
        return saved['gram']
    raise errors.InputError(f'{path} holds the Gram matrices of other examples than the blocks '
                            'this config asks for (the scores changed?); move it aside.')
  state = checkpoints.restore(checkpoints.manager(ctx.workdir / NAME / 'run' / 'checkpoints'),
                              step, like)
  host = multihost.to_host(state)
  params = jax.tree.map(lambda x: x[0], host.params)
  batch_stats = jax.tree.map(lambda x: x[0], host.batch_stats)
  constants = jax.tree.map(lambda x: x[0], host.constants)
  model = models.from_config(ctx.config, num_classes=ctx.data.num_classes)
  images = ctx.normalized_train_images
  grams = np.stack([np.asarray(_block_gram(
      params, batch_stats, constants, images[block], model=model, method=analysis.method,
      chunk_size=analysis.chunk_size, max_jacobian_bytes=int(analysis.max_jacobian_mb * 2**20)))
                    for block in block_positions])
  atomic_files.write_npz(path, gram=grams, positions=block_positions, step=np.array(step))
  return grams


def run_one_noise_level(ctx: Context) -> list[dict]:
  """Trains the tracked network of ``ctx`` (pretrained and scored) and returns one row per
  checkpoint pair × block."""
  analysis = ctx.config.analyses.ntk_velocity
  steps = sorted(set(analysis.checkpoint_steps))
  run = loop.train_ensemble(ctx.config, ctx.workdir / NAME / 'run', ctx.data,
                            seeds=[analysis.seed], labels=ctx.train_labels,
                            checkpoint_steps=tuple(steps), stop_step=max(steps))
  scores = ctx.mean_score(analysis.score, analysis.step)
  block_positions = blocks(scores, analysis.block_size, analysis.num_blocks)
  rank_of = np.empty(len(scores), int)
  rank_of[np.argsort(scores, kind='stable')] = np.arange(len(scores))
  _, is_noisy = ctx.noise
  grams = {step: _grams(ctx, step, block_positions, like=run.state) for step in steps}
  velocity = jax.jit(jax.vmap(ntk.velocity))
  rows = []
  for before, after in zip(steps, steps[1:]):
    moved = np.asarray(velocity(grams[before], grams[after]))
    for b, block in enumerate(block_positions):
      rows.append(dict(label_noise=ctx.config.data.label_noise_fraction, from_step=before,
                       to_step=after, block=b, first_rank=int(rank_of[block].min()),
                       rank_fraction=float((rank_of[block].mean() + 0.5) / len(scores)),
                       mean_score=float(scores[block].mean()),
                       noisy_fraction=float(is_noisy[block].mean()),
                       velocity=float(moved[b])))
  return rows


def noise_levels(ctx: Context) -> list[Context]:
  """Its experiments, one per label-noise level (this one among them when its own level is
  listed; see :meth:`Context.with_label_noise`): the pipeline pretrains and scores each first."""
  return [ctx.with_label_noise(fraction)
          for fraction in ctx.config.analyses.ntk_velocity.label_noise_fractions]


def ntk_velocity(ctx: Context) -> None:
  """The stage: every noise level's velocities, then the table, plot and summary section."""
  rows = []
  for level in noise_levels(ctx):
    rows += run_one_noise_level(level)
  tables.write_csv(ctx.workdir / f'{NAME}.csv', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}.json', rows)
  presentation.plot(rows, ctx.workdir / f'{NAME}.png')
  analysis = ctx.config.analyses.ntk_velocity
  tables.write_markdown_section(ctx.workdir, NAME, presentation.markdown(
      rows, analysis, ctx.score_step(analysis.step)))


STAGE = STAGES.register(Stage(
    NAME, ntk_velocity, reads_scores_of=noise_levels,
    reads=(*pretrain_and_score.READS, f'analyses.{NAME}'), check=check,
    outputs=(f'{NAME}/gram@*.npz', f'{NAME}.json', f'{NAME}.csv', f'{NAME}.md'),
    streams=False))
