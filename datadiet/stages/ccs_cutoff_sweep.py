"""Stage ``ccs_cutoff_sweep``: choose CCS's hard cutoff β for each pruning rate on held-out data.

CCS (Zheng et al. 2023) drops the ``β`` hardest examples before stratified sampling, with β
tuned per pruning rate (the authors' code uses 0.3 at 90% on CIFAR-10). This stage tunes it for
the run's own dataset, scores and model: a validation split of ``validation_fraction`` is held
out (by ``validation_seed``); for every pruning rate in ``fractions_pruned`` and every β in
``hard_cutoffs`` the CCS subset of the remaining pool is selected, stratified by ``score``
(``'aum'``, or ``'<score>@<step>'``; without a step, where the run computes it: a training-time
score at the end of pretraining, others at the last scoring step), the β hardest cut by
``prune.kwargs.ccs.cutoff_score`` (resolved at the same step, as the prune stage does), with
``prune.kwargs.ccs.num_strata`` and ``prune.seed``; fresh models are retrained on it with
``retrain.seeds``, and the β with the best mean validation accuracy is chosen per rate (ties:
the smaller β). A β whose cut leaves no room for a rate's subset of the pool is not run at that
rate; a rate with no β left is refused up front.

The βs are tuned for CCS stratified by ``score`` on the pool (the training set less the
validation split); the prune stage applies the same fractions to the whole training set. Results
live under ``ccs_cutoff_sweep/<settings digest>/``, so a sweep continued with other selection
settings (score, validation split, strata, seed) trains afresh instead of reusing results of
the old ones.

Outputs in the run's workdir: ``ccs_cutoff_sweep.csv`` / ``.json`` (one row per rate × β ×
seed), ``ccs_cutoff_sweep_best.json`` (``rates``: per rate, the β chosen on validation, its test
accuracy, the β the test set would have picked; ``hard_cutoffs_flag``: the launch.py override
that prunes with the chosen βs), ``ccs_cutoff_sweep.png`` and ``ccs_cutoff_sweep.md`` (added to
``summary.md``).
"""

from __future__ import annotations

import numpy as np

from datadiet import atomic_files, config_checks, errors, pruning, pruning_methods
from datadiet.data import holdout
from datadiet.reporting import ccs_cutoff_sweep as presentation
from datadiet.reporting import tables
from datadiet.scores import registry as score_registry
from datadiet.stages import pretrain_and_score, prune, retrain
from datadiet.stages.context import Context
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage

NAME = 'ccs_cutoff_sweep'
FIELD = f'config.analyses.{NAME}'


def runs(ctx: Context, num_train: int) -> list[dict]:
  """Every (pruning rate, β) the sweep retrains, in order: the βs whose cut leaves room for the
  rate's subset of the pool."""
  sweep = ctx.config.analyses.ccs_cutoff_sweep
  pool = holdout.pool_size(num_train, sweep.validation_fraction)
  plan = []
  for fraction in sweep.fractions_pruned:
    size = pruning.keep_size(pool, fraction)
    for beta in sweep.hard_cutoffs:
      cut = int(round(beta * pool))
      if cut + size <= pool:
        plan.append(dict(name=f'p{fraction!r}-beta{beta!r}', fraction_pruned=float(fraction),
                         hard_cutoff=float(beta), cut=cut, size=size))
  return plan


def check(ctx: Context, num_train: int) -> None:
  """Raises an InputError for a sweep this config cannot run (``ctx`` may be a planning one)."""
  sweep = ctx.config.analyses.ccs_cutoff_sweep
  holdout.check_fraction(f'{FIELD}.validation_fraction', sweep.validation_fraction, num_train)
  config_checks.non_negative_ints(ctx.config, (f'analyses.{NAME}.validation_seed', 'prune.seed'))
  config_checks.distinct_numbers(f'analyses.{NAME}.fractions_pruned', sweep.fractions_pruned, 0,
                                 1, '(0.5, 0.9)')
  config_checks.distinct_numbers(f'analyses.{NAME}.hard_cutoffs', sweep.hard_cutoffs, 0, 1,
                                 '(0.0, 0.1, 0.2, 0.3)')
  pool = holdout.pool_size(num_train, sweep.validation_fraction)
  planned = runs(ctx, num_train)  # keep_size refuses a rate that keeps nothing of the pool.
  for fraction in sweep.fractions_pruned:
    if not any(run['fraction_pruned'] == fraction for run in planned):
      raise errors.InputError(
          f'{FIELD}: at pruning rate {fraction:g} no hard_cutoff leaves its '
          f'{pruning.keep_size(pool, fraction)} kept examples in the {pool} outside the '
          f'validation split; add a β below {fraction:g} (e.g. 0) to hard_cutoffs.')
  ccs = pruning_methods.get('ccs')
  ccs.check_options(ccs.options(ctx.config))
  retrain.check_seeds(ctx)  # The subsets are retrained with the retraining seeds.
  if not isinstance(sweep.score, str) or not sweep.score:
    raise errors.InputError(f"{FIELD}.score must name a score, e.g. 'aum' or 'el2n@7800', got "
                            f'{sweep.score!r}.')
  stratified = _score_and_step(ctx, sweep.score)
  cutoff = _cutoff(ctx, stratified[1])
  for what, (score, step) in ((f'{FIELD} stratifies', stratified),
                              (f'{FIELD} cuts the hardest (prune.kwargs.ccs.cutoff_score) by',
                               cutoff or stratified)):
    score_registry.check([score])
    pretrain_and_score.check_computed(ctx, what, score, step)


def _score_and_step(ctx: Context, spec: str, step: int | None = None) -> tuple[str, int]:
  """``'aum'`` or ``'el2n@7800'`` → (score, step); without a step, where the run computes the
  score, else ``step`` (default: the last scoring step)."""
  return prune.score_option(ctx, dict(step=ctx.score_step(step)), spec)


def _cutoff(ctx: Context, stratified_step: int) -> tuple[str, int] | None:
  """(score, step) CCS cuts the hardest by (``prune.kwargs.ccs.cutoff_score``, resolved at the
  stratified score's step, as the prune stage resolves it at its subset's), or None: the
  stratified score itself."""
  ccs = pruning_methods.get('ccs')
  spec = ccs.resolved(ctx.config, 0.0)['cutoff_score']
  return None if spec is None else _score_and_step(ctx, spec, stratified_step)


def load_scores(ctx: Context) -> tuple[np.ndarray, np.ndarray | None]:
  """The K-seed mean scores CCS stratifies, and those it cuts the hardest by (None: the same)."""
  stratified = _score_and_step(ctx, ctx.config.analyses.ccs_cutoff_sweep.score)
  cutoff = _cutoff(ctx, stratified[1])
  return ctx.mean_score(*stratified), None if cutoff is None else ctx.mean_score(*cutoff)


def selection_settings(ctx: Context) -> dict:
  """What, besides (rate, β), decides a subset of the sweep: the results' directory digest."""
  sweep = ctx.config.analyses.ccs_cutoff_sweep
  stratified = _score_and_step(ctx, sweep.score)
  cutoff = _cutoff(ctx, stratified[1])
  return dict(stratified='{}@{}'.format(*stratified),
              cutoff=None if cutoff is None else '{}@{}'.format(*cutoff),
              validation_fraction=sweep.validation_fraction,
              validation_seed=sweep.validation_seed,
              num_strata=pruning_methods.get('ccs').options(ctx.config)['num_strata'],
              prune_seed=ctx.config.prune.seed)


def positions(ctx: Context, run: dict, pool: np.ndarray,
              scores: tuple[np.ndarray, np.ndarray | None] | None = None) -> np.ndarray:
  """The positions into the training split that CCS keeps for ``run`` (one of :func:`runs`),
  selected from ``pool`` alone; ``scores``: :func:`load_scores`' when the caller has them."""
  scores, cutoff_scores = load_scores(ctx) if scores is None else scores
  ccs = pruning_methods.get('ccs')
  options = dict(ccs.resolved(ctx.config, run['fraction_pruned']),
                 hard_cutoff=run['hard_cutoff'],
                 cutoff_score=None if cutoff_scores is None else cutoff_scores[pool])
  return pool[ccs.select(scores[pool], ctx.train_labels[pool], run['size'],
                         ctx.config.prune.seed, **options)]


def best_cutoffs(rows: list[dict]) -> dict[str, dict]:
  """Per pruning rate: the β with the best mean validation accuracy (the choice; ties go to the
  smaller β), and the β with the best mean test accuracy (what peeking would pick)."""
  best = {}
  for fraction in sorted({r['fraction_pruned'] for r in rows}):
    choice = holdout.best_by_validation(
        [r for r in rows if r['fraction_pruned'] == fraction], 'hard_cutoff')
    best[repr(fraction)] = dict(
        fraction_pruned=fraction, chosen_hard_cutoff=choice['chosen'],
        chosen_validation_accuracy=choice['chosen_validation_accuracy'],
        chosen_test_accuracy=choice['chosen_test_accuracy'],
        test_best_hard_cutoff=choice['test_best'], test_best_accuracy=choice['test_best_accuracy'])
  return best


def hard_cutoffs_flag(best: dict[str, dict]) -> str:
  """The launch.py override that prunes every swept rate with its chosen β (the values exactly
  as swept)."""
  pairs = ', '.join(f'({b["fraction_pruned"]!r}, {b["chosen_hard_cutoff"]!r})'
                    for b in best.values())
  return f'--config.prune.kwargs.ccs.hard_cutoffs="({pairs},)"'


def ccs_cutoff_sweep(ctx: Context) -> None:
  """The stage: retrain every (rate, β) subset of the pool, then the tables, plot and section."""
  sweep = ctx.config.analyses.ccs_cutoff_sweep
  pool, validation = holdout.split(len(ctx.data.train['label']), sweep.validation_fraction,
                                   sweep.validation_seed)
  validation_split = holdout.examples(ctx.data.train, ctx.train_labels, validation)
  settings = selection_settings(ctx)  # Also the section's score names.
  directory = ctx.settings_dir(NAME, settings)
  scores = load_scores(ctx)
  rows = []
  for run in runs(ctx, len(ctx.data.train['label'])):
    result = retrain.validated(ctx, directory / run['name'], run,
                               lambda run=run: positions(ctx, run, pool, scores),
                               validation_split)
    for seed, validation_accuracy, test_accuracy in zip(
        result['seeds'], result['validation_accuracy'], result['test_accuracy']):
      rows.append(dict(fraction_pruned=result['fraction_pruned'],
                       hard_cutoff=result['hard_cutoff'], cut=result['cut'], size=result['size'],
                       model=result['model'], seed=seed, steps=result['steps'],
                       validation_accuracy=validation_accuracy, test_accuracy=test_accuracy))
  best = best_cutoffs(rows)
  tables.write_csv(ctx.workdir / f'{NAME}.csv', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}.json', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}_best.json',
                          dict(rates=best, hard_cutoffs_flag=hard_cutoffs_flag(best)))
  presentation.plot(rows, best, ctx.workdir / f'{NAME}.png')
  tables.write_markdown_section(ctx.workdir, NAME, presentation.markdown(
      rows, best, sweep.validation_fraction, settings['stratified'], settings['cutoff'],
      ctx.config.retrain.seeds, hard_cutoffs_flag(best)))


# Reads the CCS options it does not sweep (not hard_cutoff(s): pasting the βs it chose into the
# same workdir must not look like a change of its results) and the prune seed.
STAGE = STAGES.register(Stage(
    NAME, ccs_cutoff_sweep, reads_scores_of=lambda ctx: [ctx],
    reads=(*pretrain_and_score.READS, 'retrain', 'prune.seed', 'prune.kwargs.ccs.num_strata',
           'prune.kwargs.ccs.cutoff_score', f'analyses.{NAME}'), check=check,
    outputs=(f'{NAME}/*/settings.json', f'{NAME}/*/*/result.json', f'{NAME}*.json',
             f'{NAME}.csv', f'{NAME}.md')))
