"""Stage ``offset_sweep``: slide a fixed-size kept window from the hardest examples to the easiest.

The paper's offset experiment: rank the training examples by a score, keep a window of
``fraction_kept`` of them that starts after dropping the ``offset`` hardest, retrain fresh
models on the window, and plot accuracy against the offset — with clean labels and with label
noise, where the best window drops more of the hardest (the noisy labels score high).

The offset must be chosen without looking at the test set, so a validation split of
``validation_fraction`` of the training set is held out first (by ``validation_seed``, the same
examples at every noise level): windows are cut from the remaining pool, the retrained models
are evaluated on both splits, and the offset with the best mean validation accuracy is the one
reported, next to its test accuracy. Validation labels are the run's training labels — noisy
where the run's are, as a practitioner's held-out data would be. The scores come from the run's
scoring models, which trained on the whole training set (the held-out examples included); the
retrained models never see a validation example.

Every label-noise level in ``label_noise_fractions`` is its own experiment (its own pretraining
and scores; see :meth:`Context.with_label_noise`). Each noise level's windows train under
``offset_sweep/<digest>/``, one directory per set of the settings that decide them (score and
step, ``fraction_kept``, the validation split, the prune seed), so a sweep continued with other
settings trains afresh instead of reusing results of the old ones. Outputs in the run's workdir:
``offset_sweep.csv`` / ``.json`` (one row per noise level × window × seed), ``offset_sweep_best
.json`` (per noise level: the offset chosen on validation, its test accuracy, and the offset the
test set would have picked), ``offset_sweep.png`` and ``offset_sweep.md`` (added to
``summary.md``).
"""

from __future__ import annotations


import ml_collections
import numpy as np

from datadiet import atomic_files, errors, pruning
from datadiet.data import holdout, noise
from datadiet.reporting import offset_sweep as presentation
from datadiet.reporting import tables
from datadiet.stages import pretrain_and_score, retrain
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage
from datadiet.stages.context import Context

NAME = 'offset_sweep'
RANDOM = presentation.RANDOM


def check(ctx: Context, num_train: int) -> None:
  """Raises an InputError for a sweep this config cannot run (``ctx`` may be a planning one)."""
  config, sweep = ctx.config, ctx.config.analyses.offset_sweep
  holdout.check_fraction('config.analyses.offset_sweep.validation_fraction',
                         sweep.validation_fraction, num_train)
  if not 0.0 < sweep.fraction_kept <= 1.0:
    raise errors.InputError(f'config.analyses.offset_sweep.fraction_kept must be in (0, 1], got '
                            f'{sweep.fraction_kept}.')
  if not sweep.offsets:
    raise errors.InputError(
        'config.analyses.offset_sweep.offsets is empty; give at least one offset.')
  pool = holdout.pool_size(num_train, sweep.validation_fraction)
  size = window_size(config, pool)
  for offset in sweep.offsets:
    if offset < 0 or offset_count(offset, pool) + size > pool:
      raise errors.InputError(
          f'config.analyses.offset_sweep: offset {offset} + fraction_kept {sweep.fraction_kept} '
          f'runs past the {pool} examples outside the validation split; offsets must be in [0, '
          f'{1 - sweep.fraction_kept:g}].')
  for fraction in sweep.label_noise_fractions:
    noise.check_fraction(fraction)
  retrain.check_seeds(ctx)  # The windows are retrained with the retraining seeds.
  pretrain_and_score.check_computed(ctx, f'config.analyses.{NAME} ranks by', sweep.score,
                                    sweep.step)


def window_size(config: ml_collections.ConfigDict, pool_size: int) -> int:
  """Examples in every window (``fraction_kept`` of the pool)."""
  return pruning.keep_size(pool_size, 1.0 - config.analyses.offset_sweep.fraction_kept)


def offset_count(offset: float, pool_size: int) -> int:
  """The number of hardest examples an offset (a fraction of the pool) drops."""
  return int(round(offset * pool_size))


def split_validation(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
  """``(pool, validation)`` positions into the training split, both sorted."""
  sweep = ctx.config.analyses.offset_sweep
  return holdout.split(len(ctx.data.train['label']), sweep.validation_fraction,
                       sweep.validation_seed)


def windows(ctx: Context) -> list[dict]:
  """Every window to retrain on: one per offset, then (optionally) a random one of equal size."""
  sweep = ctx.config.analyses.offset_sweep
  pool, _ = split_validation(ctx)
  size = window_size(ctx.config, len(pool))
  plan = [dict(name=f'offset-{offset:g}', window='offset', offset_fraction=float(offset),
               offset=offset_count(offset, len(pool)), size=size) for offset in sweep.offsets]
  if sweep.random_window:
    plan.append(dict(name=RANDOM, window=RANDOM, offset_fraction=None, offset=None, size=size))
  return plan


def _positions(ctx: Context, window: dict, pool: np.ndarray) -> np.ndarray:
  if window['window'] == RANDOM:
    return pool[pruning.random_subset(len(pool), window['size'], ctx.config.prune.seed)]
  scores = ctx.mean_score(ctx.config.analyses.offset_sweep.score,
                          ctx.config.analyses.offset_sweep.step)[pool]
  return pool[pruning.keep_hardest(scores, window['size'], offset=window['offset'])]


def selection_settings(ctx: Context) -> dict:
  """What, besides the offset, decides a window: the results' directory digest."""
  sweep = ctx.config.analyses.offset_sweep
  return dict(score=sweep.score, step=ctx.score_step(sweep.step),
              fraction_kept=sweep.fraction_kept, validation_fraction=sweep.validation_fraction,
              validation_seed=sweep.validation_seed, prune_seed=ctx.config.prune.seed)


def run_one_noise_level(ctx: Context) -> list[dict]:
  """Retrains on every window of ``ctx`` (pretrained and scored); rows per window × seed."""
  pool, validation = split_validation(ctx)
  validation_split = holdout.examples(ctx.data.train, ctx.train_labels, validation)
  directory = ctx.settings_dir(NAME, selection_settings(ctx))
  rows = []
  for window in windows(ctx):
    result = retrain.validated(ctx, directory / window['name'], window,
                               lambda window=window: _positions(ctx, window, pool),
                               validation_split)
    model = result['model']
    for seed, validation_accuracy, test_accuracy in zip(
        result['seeds'], result['validation_accuracy'], result['test_accuracy']):
      rows.append(dict(label_noise=ctx.config.data.label_noise_fraction, window=result['window'],
                       offset_fraction=result['offset_fraction'], offset=result['offset'],
                       size=result['size'], model=model, seed=seed, steps=result['steps'],
                       validation_accuracy=validation_accuracy, test_accuracy=test_accuracy))
  return rows


def best_offsets(rows: list[dict]) -> dict[str, dict]:
  """Per noise level: the offset with the best mean validation accuracy (the choice), and the
  one with the best mean test accuracy (what peeking at the test set would pick)."""
  best = {}
  for level in sorted({r['label_noise'] for r in rows}):
    mine = [r for r in rows if r['label_noise'] == level and r['window'] == 'offset']
    choice = holdout.best_by_validation(mine, 'offset_fraction')
    random_rows = [r['test_accuracy'] for r in rows
                   if r['label_noise'] == level and r['window'] == RANDOM]
    best[f'{level:g}'] = dict(
        label_noise=level, chosen_offset_fraction=choice['chosen'],
        chosen_offset=next(r['offset'] for r in mine if r['offset_fraction'] == choice['chosen']),
        chosen_validation_accuracy=choice['chosen_validation_accuracy'],
        chosen_test_accuracy=choice['chosen_test_accuracy'],
        test_best_offset_fraction=choice['test_best'],
        test_best_accuracy=choice['test_best_accuracy'],
        hardest_window_test_accuracy=choice['first_test_accuracy'],
        random_window_test_accuracy=float(np.mean(random_rows)) if random_rows else None)
  return best


def noise_levels(ctx: Context) -> list[Context]:
  """Its experiments, one per label-noise level (this one among them when its own level is
  listed; see :meth:`Context.with_label_noise`): the pipeline pretrains and scores each first."""
  return [ctx.with_label_noise(fraction)
          for fraction in ctx.config.analyses.offset_sweep.label_noise_fractions]


def offset_sweep(ctx: Context) -> None:
  """The stage: every noise level's sweep, then the combined tables, plot and summary section."""
  rows = []
  for level in noise_levels(ctx):
    rows += run_one_noise_level(level)
  best = best_offsets(rows)
  tables.write_csv(ctx.workdir / f'{NAME}.csv', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}.json', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}_best.json', best)
  presentation.plot(rows, best, ctx.workdir / f'{NAME}.png')
  sweep = ctx.config.analyses.offset_sweep
  tables.write_markdown_section(ctx.workdir, NAME, presentation.markdown(
      rows, best, sweep, ctx.score_step(sweep.step), ctx.config.retrain.seeds))


# Each noise level pretrains and scores its own copy of the run, then retrains every window.
STAGE = STAGES.register(Stage(
    NAME, offset_sweep, reads_scores_of=noise_levels,
    reads=(*pretrain_and_score.READS, 'retrain', f'analyses.{NAME}'), check=check,
    outputs=(f'{NAME}/*/settings.json', f'{NAME}/*/*/result.json', f'{NAME}*.json',
             f'{NAME}.csv', f'{NAME}.md')))
