"""The CCS cutoff sweep: CCS subsets of the pool outside a fixed validation split, cut by the
cutoff score, β chosen per rate on validation, files, summary and the override it prints."""

import ast
import json
import shutil

import numpy as np
import pytest

from datadiet import jobs, pruning, pruning_methods
from datadiet.data import holdout
from datadiet.stages import ccs_cutoff_sweep as sweep


def _pool(ctx):
  config = ctx.config.analyses.ccs_cutoff_sweep
  return holdout.split(len(ctx.data.train['label']), config.validation_fraction,
                       config.validation_seed)


def test_runs_are_every_rate_and_beta_whose_cut_leaves_room_for_the_subset(dynamics_run):
  _, ctx = dynamics_run
  num = len(ctx.data.train['label'])
  pool = num - round(0.1 * num)
  expected = [(f, b) for f in (0.3, 0.7) for b in (0.0, 0.2, 0.5)
              # Naive: the cut and the kept must fit in the pool.
              if round(b * pool) + pruning.keep_size(pool, f) <= pool]
  runs = sweep.runs(ctx, num)
  assert [(r['fraction_pruned'], r['hard_cutoff']) for r in runs] == expected
  assert (0.3, 0.5) not in expected and (0.7, 0.5) in expected  # 30% pruned: no room for 0.5.


def test_subsets_are_ccs_of_the_pool_without_the_cutoff_scores_hardest(dynamics_run):
  _, ctx = dynamics_run
  pool, validation = _pool(ctx)
  stratified, cutoff = ctx.mean_score('el2n', 20), ctx.mean_score('aum', 40)
  assert not np.array_equal(np.argsort(stratified[pool]), np.argsort(cutoff[pool]))
  for run in sweep.runs(ctx, len(ctx.data.train['label'])):
    kept = sweep.positions(ctx, run, pool)
    assert len(kept) == len(set(kept.tolist())) == run['size']
    assert set(kept.tolist()) <= set(pool.tolist())  # Never a validation example.
    assert not set(kept.tolist()) & set(validation.tolist())
    # Naive: the pool's `cut` hardest by the cutoff score (AUM), none of them kept.
    hardest = sorted(pool.tolist(), key=lambda p: (-cutoff[p], p))[:run['cut']]
    assert run['cut'] == round(run['hard_cutoff'] * len(pool))
    assert not set(kept.tolist()) & set(hardest)
    direct = pruning.coverage_centric(stratified[pool], run['size'], seed=ctx.config.prune.seed,
                                      num_strata=5, hard_cutoff=run['hard_cutoff'],
                                      cutoff_scores=cutoff[pool])
    np.testing.assert_array_equal(kept, pool[direct])


def test_beta_is_chosen_on_validation_not_test():
  def row(beta, seed, validation, test):
    return dict(fraction_pruned=0.7, hard_cutoff=beta, seed=seed, validation_accuracy=validation,
                test_accuracy=test)
  rows = [row(0.0, 0, 0.5, 0.9), row(0.0, 1, 0.5, 0.9),
          row(0.1, 0, 0.8, 0.7), row(0.1, 1, 0.6, 0.7),  # Best mean validation (0.7).
          row(0.3, 0, 0.7, 0.6), row(0.3, 1, 0.7, 0.6)]  # Tied: the smaller β wins.
  best = sweep.best_cutoffs(rows)['0.7']
  assert best['chosen_hard_cutoff'] == 0.1 and best['chosen_test_accuracy'] == pytest.approx(0.7)
  assert best['test_best_hard_cutoff'] == 0.0 and best['test_best_accuracy'] == 0.9


def test_files_summary_and_an_override_that_prunes_with_the_chosen_betas(dynamics_run):
  workdir, ctx = dynamics_run
  rows = json.loads((workdir / 'ccs_cutoff_sweep.json').read_text())
  assert len(rows) == 5 * 2  # 5 (rate, β) runs × 2 retraining seeds.
  assert (workdir / 'ccs_cutoff_sweep.csv').read_text().count('\n') == len(rows) + 1
  assert all(0.0 <= r['test_accuracy'] <= 1.0 and r['steps'] == 40 for r in rows)
  saved = json.loads((workdir / 'ccs_cutoff_sweep_best.json').read_text())
  assert saved['rates'] == sweep.best_cutoffs(rows) and set(saved['rates']) == {'0.3', '0.7'}
  settings = json.loads(next((workdir / 'ccs_cutoff_sweep').glob('*/settings.json')).read_text())
  assert settings == sweep.selection_settings(ctx)
  flag = saved['hard_cutoffs_flag']
  name, value = flag.split('=', 1)
  assert name == '--config.prune.kwargs.ccs.hard_cutoffs'
  pairs = ast.literal_eval(ast.literal_eval(value))  # The shell's quotes, then the tuple.
  assert pairs == tuple((b['fraction_pruned'], b['chosen_hard_cutoff'])
                        for b in saved['rates'].values())
  ccs = pruning_methods.get('ccs')
  options, _ = ccs.merged({'hard_cutoffs': pairs})
  ccs.check_options(options)  # A value the CCS method takes.
  for fraction, beta in pairs:
    assert ccs.resolve(options, fraction)['hard_cutoff'] == beta
  assert (workdir / 'ccs_cutoff_sweep.png').stat().st_size > 0
  summary = (workdir / 'summary.md').read_text()
  assert '## CCS cutoff sweep' in summary and flag in summary
  assert 'stratified by el2n@20, the β hardest by aum@40 cut first' in summary


def test_other_selection_settings_train_into_other_directories(dynamics_run):
  """A sweep continued with another validation split, score or seed never reuses the results
  of the old settings (the (rate, β) names alone would match)."""
  _, ctx = dynamics_run
  base = sweep.selection_settings(ctx)
  assert (ctx.settings_dir('ccs_cutoff_sweep', base) / 'p0.3-beta0.0' / 'result.json').exists()
  for field, value in (('analyses.ccs_cutoff_sweep.validation_seed', 1),
                       ('analyses.ccs_cutoff_sweep.validation_fraction', 0.2),
                       ('analyses.ccs_cutoff_sweep.score', 'aum'),
                       ('prune.kwargs.ccs.num_strata', 4), ('prune.seed', 3)):
    config = ctx.config.copy_and_resolve_references()
    config.update_from_flattened_dict({field: value})
    assert sweep.selection_settings(type(ctx)(config, ctx.workdir)) != base, field
  config = ctx.config.copy_and_resolve_references()
  config.update_from_flattened_dict({'prune.kwargs.ccs.hard_cutoffs': ((0.3, 0.2),)})
  assert sweep.selection_settings(type(ctx)(config, ctx.workdir)) == base  # Not a setting.


def test_continuing_a_changed_sweep_runs_it_and_the_later_stages_only(dynamics_run, tmp_path):
  """The sweep running again re-enters pretraining and scoring to make sure of them, but they
  were settled before it: they stay done (they once ran again, logging 'an earlier stage ran
  again')."""
  reference, ctx = dynamics_run
  workdir = tmp_path / 'run'
  shutil.copytree(reference, workdir)
  done = {p.name: p.read_bytes() for p in (workdir / 'stages').glob('*.done')}
  config = ctx.config.copy_and_resolve_references()
  config.update_from_flattened_dict({'analyses.ccs_cutoff_sweep.validation_seed': 1})
  jobs.run(config, workdir, continue_with_changed_config=True)
  rerun = sorted(name for name, before in done.items()
                 if (workdir / 'stages' / name).read_bytes() != before)
  # The sweep (its config changed) and the stages after it; not those before.
  assert rerun == ['budget_sweep.done', 'ccs_cutoff_sweep.done', 'error_barrier.done',
                   'ntk_velocity.done', 'report.done']
  assert len(list((workdir / 'ccs_cutoff_sweep').glob('*/settings.json'))) == 2
