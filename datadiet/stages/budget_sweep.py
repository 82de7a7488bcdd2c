"""Stage ``budget_sweep``: at which training budget does keeping the hardest pay, and which
method to prune with at a given budget and fraction.

Keeping the hardest examples beats random pruning with a long training budget and loses to it
with a short one (Sorscher et al. 2022): with little compute the easy examples serve better.
This stage measures where that turns over for the run's own data, scores and model. A validation
split of ``validation_fraction`` is held out of the training set (by ``validation_seed``); for
every retraining budget in ``budgets`` (full-set epochs: each run, pruned or not, trains that
many passes' worth of steps over the whole training set, the paper's fixed-step budget) and
every fraction in ``fractions_pruned``, each method in ``methods`` selects a subset of the
remaining pool by the scores ``by`` (``'<score>[@<step>]'``, the run's K-seed mean; the methods'
own options from ``prune.kwargs``, ``prune.seed``), and fresh models train on it with
``retrain.seeds``. The scores are the run's, taken once; only the retraining budget varies.

Outputs in the run's workdir: ``budget_sweep.csv`` / ``.json`` (one row per budget × method ×
fraction × seed, validation and test accuracy), ``budget_sweep_choice.json`` (per budget and
fraction: the method with the best mean validation accuracy, ties to the one listed first in
``methods``, its test accuracy, what peeking at the test set would pick, and the launch.py
override that prunes with the choice), ``budget_sweep.png`` (the phase diagram: budget ×
fraction → each method's test accuracy minus random's, and the choice) and ``budget_sweep.md``
(added to ``summary.md``).

Every subset's result is written when it finishes, under ``budget_sweep/<settings digest>/
<budget>epochs/``, so a killed sweep resumes where it stopped, and budgets can be run one at a
time: relaunch with more ``budgets`` and ``--continue_with_changed_config``, and the finished
ones are read back, not retrained.
"""

from __future__ import annotations

import numpy as np
from absl import logging

from datadiet import atomic_files, config_checks, errors, pruning, pruning_methods
from datadiet.data import holdout
from datadiet.reporting import budget_sweep as presentation
from datadiet.reporting import tables
from datadiet.scores import registry as score_registry
from datadiet.stages import pretrain_and_score, prune, retrain
from datadiet.stages.context import Context
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage
from datadiet.train import optim

NAME = 'budget_sweep'
FIELD = f'config.analyses.{NAME}'
RANDOM = 'random'


def _by(ctx: Context) -> tuple[str, int]:
  """``analyses.budget_sweep.by`` as (score, step); without a step, where the run computes it
  (AUM at the end of pretraining), else the last scoring step."""
  spec = ctx.config.analyses.budget_sweep.by
  if not isinstance(spec, str) or not spec:
    raise errors.InputError(f"{FIELD}.by must name a score, e.g. 'el2n' or 'el2n@48', got "
                            f'{spec!r}.')
  return prune.score_option(ctx, dict(step=ctx.score_step()), spec)


def budget_steps(epochs: float, num_train: int, batch_size: int) -> int:
  """The steps of ``epochs`` passes over the full training set (every subset trains as many,
  the paper's fixed-step budget)."""
  return round(epochs * optim.steps_per_epoch(num_train, batch_size))


def budget_context(ctx: Context, epochs: float, num_train: int) -> Context:
  """``ctx`` retraining for ``epochs`` full-set epochs, in steps (``retrain.budget_steps``)."""
  return ctx.with_retrain_budget(budget_steps(epochs, num_train, ctx.config.optim.batch_size))


def runs(ctx: Context) -> list[dict]:
  """Every (budget, method, fraction) the sweep retrains, in that order (a budget's runs
  together, so a lease can finish one budget at a time)."""
  sweep = ctx.config.analyses.budget_sweep
  score, step = _by(ctx)
  plan = []
  for epochs in sweep.budgets:
    for fraction in sweep.fractions_pruned:
      for method in sweep.methods:
        uses_scores = pruning_methods.get(method).uses_scores
        plan.append(dict(
            name=f'{float(epochs):g}epochs/{method}-p{fraction:g}', budget_epochs=float(epochs),
            method=method, score=score if uses_scores else None,
            step=step if uses_scores else None, score_model=None,
            fraction_pruned=float(fraction)))
  return plan


def check(ctx: Context, num_train: int) -> None:
  """Raises an InputError for a sweep this config cannot run (``ctx`` may be a planning one)."""
  sweep = ctx.config.analyses.budget_sweep
  holdout.check_fraction(f'{FIELD}.validation_fraction', sweep.validation_fraction, num_train)
  config_checks.non_negative_ints(ctx.config, (f'analyses.{NAME}.validation_seed', 'prune.seed'))
  config_checks.distinct_numbers(f'analyses.{NAME}.budgets', sweep.budgets, 0, None,
                                 '(2.5, 5, 10, 20)')
  config_checks.distinct_numbers(f'analyses.{NAME}.fractions_pruned', sweep.fractions_pruned, 0,
                                 1, '(0.1, 0.5, 0.9)')
  if not sweep.methods or len(set(sweep.methods)) != len(sweep.methods):
    raise errors.InputError(f'{FIELD}.methods must list distinct pruning methods, at least one; '
                            f"got {tuple(sweep.methods)!r}, e.g. ('random', 'keep_hardest').")
  pruning_methods.check(sweep.methods)
  if RANDOM not in sweep.methods:
    raise errors.InputError(f"{FIELD}.methods must include 'random': the phase diagram is each "
                            f"method's accuracy minus random pruning's; got "
                            f'{tuple(sweep.methods)!r}.')
  retrain.check_seeds(ctx)  # The subsets are retrained with the retraining seeds.
  pool = holdout.pool_size(num_train, sweep.validation_fraction)
  for method in sweep.methods:
    chosen = pruning_methods.get(method)
    chosen.check_options(chosen.options(ctx.config))
  for epochs in sweep.budgets:  # The shortest run must fit the recipe's fixed-step events.
    steps = budget_steps(epochs, num_train, ctx.config.optim.batch_size)
    if steps < 1:
      raise errors.InputError(f'{FIELD}.budgets: {epochs:g} epochs of {num_train} examples in '
                              f'batches of {ctx.config.optim.batch_size} is no step; give more.')
    retrain.check_budget(budget_context(ctx, epochs, num_train).config)
  score, step = _by(ctx)
  if score not in score_registry.SCORES:
    raise errors.InputError(f'{FIELD}.by names {score!r}, not a score; valid: '
                            f'{", ".join(score_registry.SCORES)}.')
  for entry in runs(ctx):
    method = pruning_methods.get(entry['method'])
    if method.uses_scores:
      pretrain_and_score.check_computed(ctx, f'{FIELD}.by', score, step)
    for name in method.score_options:
      spec = method.resolved(ctx.config, entry['fraction_pruned'])[name]
      if spec is not None:
        pretrain_and_score.check_computed(
            ctx, f'{FIELD}: {entry["method"]} (prune.kwargs.{entry["method"]}.{name}) reads',
            *prune.score_option(ctx, entry, spec))
    method.check_subset(method.options(ctx.config), pool,
                        pruning.keep_size(pool, entry['fraction_pruned']), entry)


def selection_settings(ctx: Context) -> dict:
  """What, besides (budget, method, fraction), decides a subset's result: the directory
  digest."""
  sweep = ctx.config.analyses.budget_sweep
  return dict(by='{}@{}'.format(*_by(ctx)), validation_fraction=sweep.validation_fraction,
              validation_seed=sweep.validation_seed, prune_seed=ctx.config.prune.seed,
              options={m: pruning_methods.get(m).options(ctx.config)
                       for m in sorted(sweep.methods)})


def choices(rows: list[dict], methods: list[str]) -> list[dict]:
  """Per (budget, fraction): the method with the best mean validation accuracy (ties: the one
  first in ``methods``), its test accuracy, random's, and the best by test accuracy (what
  peeking at the test set would pick)."""
  out = []
  for epochs, fraction in sorted({(r['budget_epochs'], r['fraction_pruned']) for r in rows}):
    mine = [r for r in rows if (r['budget_epochs'], r['fraction_pruned']) == (epochs, fraction)]
    ran = [m for m in methods if any(r['method'] == m for r in mine)]

    def mean(method, key, mine=mine):
      return float(np.mean([r[key] for r in mine if r['method'] == method]))

    order = {m: i for i, m in enumerate(ran)}
    chosen = max(ran, key=lambda m: (mean(m, 'validation_accuracy'), -order[m]))
    peeked = max(ran, key=lambda m: (mean(m, 'test_accuracy'), -order[m]))
    out.append(dict(
        budget_epochs=epochs, steps=mine[0]['steps'], fraction_pruned=fraction, chosen=chosen,
        chosen_validation_accuracy=mean(chosen, 'validation_accuracy'),
        chosen_test_accuracy=mean(chosen, 'test_accuracy'),
        random_test_accuracy=mean(RANDOM, 'test_accuracy') if RANDOM in ran else None,
        test_best=peeked, test_best_accuracy=mean(peeked, 'test_accuracy')))
  return out


def override(choice: dict, by: str) -> str:
  """The launch.py flags that prune ``choice['fraction_pruned']`` with the chosen method (by
  ``by`` when it reads scores) and retrain for its budget, in steps (``retrain.budget_steps``:
  the scoring seeds, and so the scores, stay as they were)."""
  method = choice['chosen']
  flags = [f'--config.prune.methods="(\'{method}\',)"']
  if pruning_methods.get(method).uses_scores:
    flags.append(f'--config.prune.by="(\'{by}\',)"')
  flags += [f'--config.prune.fractions="({choice["fraction_pruned"]!r},)"',
            f'--config.retrain.budget_steps={choice["steps"]}']
  return ' '.join(flags)


def budget_sweep(ctx: Context) -> None:
  """The stage: retrain every (budget, method, fraction) subset of the pool, then the tables,
  the phase diagram, the choices and their overrides."""
  sweep = ctx.config.analyses.budget_sweep
  num_train = len(ctx.data.train['label'])
  pool, validation = holdout.split(num_train, sweep.validation_fraction, sweep.validation_seed)
  validation_split = holdout.examples(ctx.data.train, ctx.train_labels, validation)
  settings = selection_settings(ctx)
  directory = ctx.settings_dir(NAME, settings)
  score, step = _by(ctx)
  scores = ctx.mean_score(score, step)
  budgets = {float(epochs): budget_context(ctx, epochs, num_train) for epochs in sweep.budgets}
  rows = []
  for entry in runs(ctx):
    budget = budgets[entry['budget_epochs']]  # Only the retraining runs at this budget.
    result = retrain.validated(budget, directory / entry['name'], entry,
                               lambda entry=entry: prune.select(ctx, entry, scores, pool),
                               validation_split)
    for seed, validation_accuracy, test_accuracy in zip(
        result['seeds'], result['validation_accuracy'], result['test_accuracy']):
      rows.append(dict(budget_epochs=result['budget_epochs'], steps=result['steps'],
                       method=result['method'], fraction_pruned=result['fraction_pruned'],
                       size=pruning.keep_size(len(pool), result['fraction_pruned']),
                       model=result['model'], seed=seed,
                       validation_accuracy=validation_accuracy, test_accuracy=test_accuracy))
  chosen = choices(rows, list(sweep.methods))
  for choice in chosen:
    choice['override'] = override(choice, settings['by'])
  tables.write_csv(ctx.workdir / f'{NAME}.csv', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}.json', rows)
  atomic_files.write_json(ctx.workdir / f'{NAME}_choice.json', chosen)
  presentation.plot(rows, chosen, ctx.workdir / f'{NAME}.png', title=(
      f'{ctx.data.name}, {retrain.model_name(ctx)}, by {settings["by"]}; '
      f'{len(ctx.config.retrain.seeds)} retraining seeds'))
  lines = presentation.markdown(rows, chosen, settings['by'], sweep.validation_fraction,
                                ctx.config.retrain.seeds)
  tables.write_markdown_section(ctx.workdir, NAME, lines)
  for choice in chosen:
    logging.info('At %g full-set epochs, %g pruned: %s (validation %.4f) → %s',
                 choice['budget_epochs'],
                 choice['fraction_pruned'], choice['chosen'],
                 choice['chosen_validation_accuracy'], choice['override'])


# Reads the methods' options and the prune seed (they decide its subsets), its own block, and
# the retraining recipe (its budgets set retrain.budget_steps; the scoring seeds keep
# optim.budget).
STAGE = STAGES.register(Stage(
    NAME, budget_sweep, reads_scores_of=lambda ctx: [ctx],
    reads=(*pretrain_and_score.READS, 'retrain', 'prune.seed', 'prune.kwargs',
           f'analyses.{NAME}'), check=check,
    outputs=(f'{NAME}/*/settings.json', f'{NAME}/*/*/*/result.json', f'{NAME}*.json',
             f'{NAME}.csv', f'{NAME}.md')))
