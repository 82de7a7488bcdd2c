"""The budget sweep: each method's subset of the pool at every budget and fraction, the steps of
each budget, the method chosen on validation, the phase diagram's values, files and refusals."""

import ast
import json
import math

import numpy as np
import pytest

from datadiet import preflight, pruning, pruning_methods
from datadiet.data import holdout
from datadiet.reporting import budget_sweep as presentation
from datadiet.stages import budget_sweep as sweep
from datadiet.stages import prune

METHODS = ('random', 'keep_hardest', 'offset', 'ccs')


def _pool(ctx):
  config = ctx.config.analyses.budget_sweep
  return holdout.split(len(ctx.data.train['label']), config.validation_fraction,
                       config.validation_seed)


def test_runs_are_every_budget_fraction_and_method_a_budget_at_a_time(dynamics_run):
  _, ctx = dynamics_run
  names = [run['name'] for run in sweep.runs(ctx)]
  assert names == [f'{b:g}epochs/{m}-p{f:g}' for b in (0.5, 1.0) for f in (0.3, 0.7)
                   for m in METHODS]


def test_subsets_are_each_methods_own_selection_from_the_pool(dynamics_run):
  _, ctx = dynamics_run
  pool, validation = _pool(ctx)
  scores, aum = ctx.mean_score('el2n', 20), ctx.mean_score('aum', 40)
  for run in sweep.runs(ctx):
    kept = prune.select(ctx, run, scores, pool)
    size = pruning.keep_size(len(pool), run['fraction_pruned'])
    assert kept.shape[-1] == size and not set(kept.ravel().tolist()) & set(validation.tolist())
    if run['method'] == 'keep_hardest':  # Naive: the pool's `size` highest scores.
      hardest = sorted(pool.tolist(), key=lambda p: (-scores[p], p))[:size]
      assert sorted(kept.tolist()) == sorted(hardest)
    elif run['method'] == 'offset':  # The band after the 2% hardest of the pool.
      skip = round(0.02 * len(pool))
      band = sorted(pool.tolist(), key=lambda p: (-scores[p], p))[skip:skip + size]
      assert sorted(kept.tolist()) == sorted(band)
    elif run['method'] == 'ccs':  # Strata of EL2N, the hardest by AUM cut (as configured).
      direct = pruning.coverage_centric(scores[pool], size, seed=0, num_strata=5,
                                        hard_cutoff=0.02, cutoff_scores=aum[pool])
      np.testing.assert_array_equal(kept, pool[direct])
    else:  # A fresh draw per retraining seed, of the pool.
      assert kept.shape == (2, size)
      for row, seed in zip(kept, (100, 101)):
        np.testing.assert_array_equal(row, pool[pruning.random_subset(
            len(pool), size, pruning_methods.subset_seed(0, seed))])


def test_every_run_trains_its_budgets_steps_whatever_its_size(dynamics_run):
  workdir, ctx = dynamics_run
  rows = json.loads((workdir / 'budget_sweep.json').read_text())
  per_epoch = math.ceil(len(ctx.data.train['label']) / ctx.config.optim.batch_size)
  assert len(rows) == 2 * 2 * 4 * 2  # budgets × fractions × methods × retraining seeds.
  for row in rows:
    assert row['steps'] == round(row['budget_epochs'] * per_epoch)
  assert {r['steps'] for r in rows} == {round(0.5 * per_epoch), per_epoch}


def _row(budget, fraction, method, seed, validation, test):
  return dict(budget_epochs=budget, steps=10, fraction_pruned=fraction, method=method, seed=seed,
              validation_accuracy=validation, test_accuracy=test)


def test_the_choice_is_the_best_mean_validation_accuracy_ties_to_the_first_listed():
  rows = [_row(5, 0.5, 'random', 0, 0.6, 0.7), _row(5, 0.5, 'random', 1, 0.8, 0.7),
          _row(5, 0.5, 'keep_hardest', 0, 0.7, 0.9), _row(5, 0.5, 'keep_hardest', 1, 0.7, 0.9),
          _row(5, 0.5, 'ccs', 0, 0.75, 0.5), _row(5, 0.5, 'ccs', 1, 0.75, 0.5),
          _row(2, 0.5, 'random', 0, 0.5, 0.5), _row(2, 0.5, 'keep_hardest', 0, 0.4, 0.6)]
  (short, long) = sweep.choices(rows, list(METHODS))
  assert (long['chosen'], long['chosen_test_accuracy'], long['test_best']) == ('ccs', 0.5,
                                                                                'keep_hardest')
  assert long['random_test_accuracy'] == pytest.approx(0.7) and long['steps'] == 10
  assert short['chosen'] == 'random' and short['test_best'] == 'keep_hardest'
  # random and keep_hardest tie at 0.7 on validation without CCS: the one listed first.
  tied = [r for r in rows if r['method'] != 'ccs' and r['budget_epochs'] == 5]
  assert sweep.choices(tied, list(METHODS))[0]['chosen'] == 'random'
  assert sweep.choices(tied, ['keep_hardest', 'random'])[0]['chosen'] == 'keep_hardest'


def test_the_runs_choices_and_phase_diagram_against_plain_loops(dynamics_run):
  workdir, _ = dynamics_run
  rows = json.loads((workdir / 'budget_sweep.json').read_text())
  saved = json.loads((workdir / 'budget_sweep_choice.json').read_text())
  assert len(saved) == 4
  for choice in saved:
    means = {}
    for method in METHODS:
      mine = [r for r in rows if (r['budget_epochs'], r['fraction_pruned'], r['method'])
              == (choice['budget_epochs'], choice['fraction_pruned'], method)]
      means[method] = (sum(r['validation_accuracy'] for r in mine) / len(mine),
                       sum(r['test_accuracy'] for r in mine) / len(mine))
    best = max(means[m][0] for m in METHODS)
    assert choice['chosen'] == next(m for m in METHODS if means[m][0] == best)
    assert choice['chosen_test_accuracy'] == pytest.approx(means[choice['chosen']][1])
    budgets, fractions, advantage = presentation.advantage(rows, 'keep_hardest')
    i, j = budgets.index(choice['budget_epochs']), fractions.index(choice['fraction_pruned'])
    assert advantage[i, j] == pytest.approx(100 * (means['keep_hardest'][1] - means['random'][1]))
    # The override prunes with the choice and retrains the budget's steps.
    flags = dict(flag.split('=', 1) for flag in choice['override'].split(' '))
    assert ast.literal_eval(ast.literal_eval(flags['--config.prune.methods'])) == (
        choice['chosen'],)
    assert ast.literal_eval(ast.literal_eval(flags['--config.prune.fractions'])) == (
        choice['fraction_pruned'],)
    # Only the retraining budget: the scoring seeds, and so the scores, stay as validated.
    assert flags['--config.retrain.budget_steps'] == str(choice['steps'])
    assert not any(flag.startswith('--config.optim.') for flag in flags)
    assert ('--config.prune.by' in flags) == (choice['chosen'] != 'random')
  summary = (workdir / 'summary.md').read_text()
  assert '## Budget sweep: when keeping the hardest pays' in summary
  assert (workdir / 'budget_sweep.png').stat().st_size > 0


@pytest.mark.parametrize('overrides, message', [
    ({'analyses.budget_sweep.methods': ('keep_hardest', 'ccs')}, r"must include 'random'"),
    ({'analyses.budget_sweep.budgets': (0.0, 1.0)}, r'budgets must be numbers > 0, got 0.0'),
    ({'analyses.budget_sweep.budgets': (1.0, 1.0)}, r'budgets must list distinct values'),
    ({'analyses.budget_sweep.fractions_pruned': (1.0,)}, r'fractions_pruned must be fractions in'),
    ({'analyses.budget_sweep.by': 'grnd'}, r"budget_sweep.by names 'grnd', not a score; valid: "),
    ({'analyses.budget_sweep.by': 'el2n@7'}, r'by el2n at step 7, which this run does not '),
    ({'analyses.budget_sweep.budgets': (0.01,)}, r'0.01 epochs of .* is no step'),
])
def test_bad_sweeps_are_refused_up_front(dynamics_run, overrides, message):
  _, ctx = dynamics_run
  config = ctx.config.copy_and_resolve_references()
  config.update_from_flattened_dict(overrides)
  with pytest.raises(ValueError, match=message):
    preflight.check(config)
