"""Stage ``ccs_cutoff_sweep``: choose CCS's hard cutoff β for each pruning rate on held-out data.

CCS (Zheng et al. 2023) drops the ``β`` hardest examples before stratified sampling, with β
tuned per pruning rate (the authors' code uses 0.3 at 90% on CIFAR-10). This stage tunes it for
the run's own dataset, scores and model: a validation split of ``validation_fraction`` is held
out (by ``validation_seed``); for every pruning rate in ``fractions_pruned`` and every β in
``hard_cutoffs`` the CCS subset of the remaining pool is selected, stratified by ``score``
(``'aum'``, or ``'<score>@<step>'``; without a step, where the run computes it: a training-time
score at the end of pretraining, others at the last scoring step), with ``prune.kwargs.ccs``'s
``num_strata`` and ``cutoff_score`` and ``prune.seed``, fresh models are retrained on it with
``retrain.seeds``, and the β with the best mean validation accuracy is chosen per rate (ties:
the smaller β). A β that cannot leave a rate's subset (``β`` of the pool cut plus the subset
exceed the pool) is not run at that rate; a rate with no β left is refused up front.

Outputs in the run's workdir: ``ccs_cutoff_sweep.csv`` / ``.json`` (one row per rate × β ×
seed), ``ccs_cutoff_sweep_best.json`` (``rates``: per rate, the β chosen on validation, its test
accuracy, the β the test set would have picked; ``hard_cutoffs_flag``: the launch.py override
that prunes with the chosen βs), ``ccs_cutoff_sweep.png`` and ``ccs_cutoff_sweep.md`` (added to
``summary.md``).
"""

from __future__ import annotations

import numpy as np

from datadiet import atomic_files, errors, pruning, selectors
from datadiet.data import holdout
from datadiet.reporting import ccs_cutoff_sweep as presentation
from datadiet.reporting import tables
from datadiet.stages import pretrain_and_score, prune, retrain
from datadiet.stages.context import Context
from datadiet.stages.protocol import Stage
from datadiet.train import loop

NAME = 'ccs_cutoff_sweep'


def _pool_size(ctx: Context, num_train: int) -> int:
  return num_train - holdout.size(num_train, ctx.config.analyses.ccs_cutoff_sweep
                                  .validation_fraction)


def runs(ctx: Context, num_train: int) -> list[dict]:
  """Every (pruning rate, β) the sweep retrains, in order: the βs whose cut leaves room for the
  rate's subset of the pool."""
  sweep = ctx.config.analyses.ccs_cutoff_sweep
  pool = _pool_size(ctx, num_train)
  plan = []
  for fraction in sweep.fractions_pruned:
    size = pruning.keep_size(pool, fraction)
    for beta in sweep.hard_cutoffs:
      cut = int(round(beta * pool))
      if cut + size <= pool:
        plan.append(dict(name=f'p{fraction:g}-beta{beta:g}', fraction_pruned=float(fraction),
                         hard_cutoff=float(beta), cut=cut, size=size))
  return plan


def check(ctx: Context, num_train: int) -> None:
  """Raises an InputError for a sweep this config cannot run (``ctx`` may be a planning one)."""
  sweep = ctx.config.analyses.ccs_cutoff_sweep
  field = f'config.analyses.{NAME}'
  holdout.check_fraction(f'{field}.validation_fraction', sweep.validation_fraction)
  if not sweep.fractions_pruned or not sweep.hard_cutoffs:
    raise errors.InputError(f'{field} needs at least one fraction_pruned and one hard_cutoff, '
                            f'got {tuple(sweep.fractions_pruned)} and '
                            f'{tuple(sweep.hard_cutoffs)}.')
  for beta in sweep.hard_cutoffs:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1:
      raise errors.InputError(f'{field}.hard_cutoffs must be fractions in [0, 1), got {beta!r}.')
  pool = _pool_size(ctx, num_train)
  planned = runs(ctx, num_train)  # keep_size validates each fraction.
  for fraction in sweep.fractions_pruned:
    if not any(run['fraction_pruned'] == fraction for run in planned):
      raise errors.InputError(
          f'{field}: at pruning rate {fraction:g} no hard_cutoff leaves its '
          f'{pruning.keep_size(pool, fraction)} kept examples in the {pool} outside the '
          f'validation split; add a β below {fraction:g} (e.g. 0) to hard_cutoffs.')
  ccs = selectors.get('ccs')
  ccs.check_options(ccs.options(ctx.config))
  retrain.check_seeds(ctx)  # The subsets are retrained with the retraining seeds.
  for what, spec in ((f'{field} stratifies', sweep.score),
                     (f'{field} cuts by (prune.kwargs.ccs.cutoff_score)', _cutoff_spec(ctx))):
    if spec is not None:
      score, step = _score_and_step(ctx, spec)
      pretrain_and_score.check_computed(ctx, what, score, step)


def _score_and_step(ctx: Context, spec: str) -> tuple[str, int]:
  """``'aum'`` or ``'el2n@7800'`` → (score, step), as ``prune.kwargs.ccs.cutoff_score`` reads."""
  return prune.score_option(ctx, dict(step=ctx.score_step()), spec)


def _cutoff_spec(ctx: Context) -> str | None:
  """``prune.kwargs.ccs.cutoff_score`` (``'aum'``, ``'aum@78000'``), or None: the stratified
  score itself."""
  return selectors.get('ccs').resolve(selectors.get('ccs').options(ctx.config), 0.0)[
      'cutoff_score']


def load_scores(ctx: Context) -> tuple[np.ndarray, np.ndarray | None]:
  """The K-seed mean scores CCS stratifies, and those it cuts the hardest by (None: the same)."""
  stratified = ctx.mean_score(*_score_and_step(ctx, ctx.config.analyses.ccs_cutoff_sweep.score))
  cutoff = _cutoff_spec(ctx)
  return stratified, None if cutoff is None else ctx.mean_score(*_score_and_step(ctx, cutoff))


def positions(ctx: Context, run: dict, pool: np.ndarray,
              scores: tuple[np.ndarray, np.ndarray | None] | None = None) -> np.ndarray:
  """The positions into the training split that CCS keeps for ``run`` (one of :func:`runs`),
  selected from ``pool`` alone; ``scores``: :func:`load_scores`' when the caller has loaded them."""
  scores, cutoff_scores = load_scores(ctx) if scores is None else scores
  ccs = selectors.get('ccs')
  options = dict(ccs.resolve(ccs.options(ctx.config), run['fraction_pruned']),
                 hard_cutoff=run['hard_cutoff'],
                 cutoff_score=None if cutoff_scores is None else cutoff_scores[pool])
  return pool[ccs.select(scores[pool], ctx.train_labels[pool], run['size'],
                         ctx.config.prune.seed, **options)]


def best_cutoffs(rows: list[dict]) -> dict[str, dict]:
  """Per pruning rate: the β with the best mean validation accuracy (the choice; ties go to the
  smaller β), and the β with the best mean test accuracy (what peeking would pick)."""
  best = {}
  for fraction in sorted({r['fraction_pruned'] for r in rows}):
    mine = [r for r in rows if r['fraction_pruned'] == fraction]
    betas = sorted({r['hard_cutoff'] for r in mine})
    mean = lambda key, b: float(np.mean([r[key] for r in mine if r['hard_cutoff'] == b]))  # noqa: E731
    chosen = max(betas, key=lambda b: (mean('validation_accuracy', b), -b))
    peeked = max(betas, key=lambda b: (mean('test_accuracy', b), -b))
    best[f'{fraction:g}'] = dict(
        fraction_pruned=fraction, chosen_hard_cutoff=chosen,
        chosen_validation_accuracy=mean('validation_accuracy', chosen),
        chosen_test_accuracy=mean('test_accuracy', chosen), test_best_hard_cutoff=peeked,
        test_best_accuracy=mean('test_accuracy', peeked))
  return best


def hard_cutoffs_flag(best: dict[str, dict]) -> str:
  """The launch.py override that prunes every swept rate with its chosen β."""
  pairs = ', '.join(f'({b["fraction_pruned"]:g}, {b["chosen_hard_cutoff"]:g})'
                    for b in best.values())
  return f'--config.prune.kwargs.ccs.hard_cutoffs="({pairs},)"'


def ccs_cutoff_sweep(ctx: Context) -> None:
  """The stage: retrain every (rate, β) subset of the pool, then the tables, plot and section."""
  pretrain_and_score.ensure_scored(ctx)
  sweep = ctx.config.analyses.ccs_cutoff_sweep
  pool, validation = holdout.split(len(ctx.data.train['label']), sweep.validation_fraction,
                                   sweep.validation_seed)
  validation_split = holdout.examples(ctx.data.train, ctx.train_labels, validation)
  model = retrain.model_name(ctx)
  scores = load_scores(ctx)
  rows = []
  for run in runs(ctx, len(ctx.data.train['label'])):
    directory = ctx.workdir / NAME / run['name']

    def train(run=run, directory=directory):
      trained = loop.train_ensemble(
          ctx.config, directory, ctx.data, seeds=list(ctx.config.retrain.seeds),
          keep_positions=positions(ctx, run, pool, scores), labels=ctx.train_labels,
          model_name=model, eval_splits={'validation': validation_split})
      return dict(run, model=model, seeds=trained.seeds, steps=trained.num_steps,
                  validation_accuracy=trained.evaluations['validation']['accuracy'].tolist(),
                  test_accuracy=trained.test['accuracy'].tolist())

    result = ctx.once(directory / 'result.json', train)
    for seed, validation_accuracy, test_accuracy in zip(
        result['seeds'], result['validation_accuracy'], result['test_accuracy']):
      rows.append(dict(fraction_pruned=result['fraction_pruned'],
                       hard_cutoff=result['hard_cutoff'], cut=result['cut'], size=result['size'],
                       model=model, seed=seed, steps=result['steps'],
                       validation_accuracy=validation_accuracy, test_accuracy=test_accuracy))
  best = best_cutoffs(rows)
  tables.write_csv(ctx.workdir / f'{NAME}.csv', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}.json', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}_best.json',
                          dict(rates=best, hard_cutoffs_flag=hard_cutoffs_flag(best)))
  presentation.plot(rows, best, ctx.workdir / f'{NAME}.png')
  cutoff = _cutoff_spec(ctx)
  tables.write_markdown_section(ctx.workdir, NAME, presentation.markdown(
      rows, best, sweep.validation_fraction, '{}@{}'.format(*_score_and_step(ctx, sweep.score)),
      None if cutoff is None else '{}@{}'.format(*_score_and_step(ctx, cutoff)),
      ctx.config.retrain.seeds, hard_cutoffs_flag(best)))


# Reads the CCS options it does not sweep (num_strata, cutoff_score) and the prune seed.
STAGE = Stage(NAME, ccs_cutoff_sweep,
              reads=(*pretrain_and_score.READS, 'retrain', 'prune.seed', 'prune.kwargs.ccs',
                     f'analyses.{NAME}'), check=check,
              outputs=(f'{NAME}/*/result.json', f'{NAME}*.json', f'{NAME}.csv', f'{NAME}.md'))
