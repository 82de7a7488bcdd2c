"""The whole pipeline on tiny data, asserting on its files; interrupted runs finish on relaunch."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from configs import default as pipeline_config
from datadiet import experiment, preflight, pruning, pruning_methods, score_files
from datadiet.data import sources
from datadiet.stages import pretrain_and_score, prune, report, retrain
from datadiet.stages.context import Context


def _tiny_config(overrides=None):
  config = pipeline_config.get_config()
  config.update_from_flattened_dict({
      'pretrain.seeds': (0, 1), 'optim.budget': 30, 'runtime.log_every_steps': 10,
      'scores.steps': (0, 10), 'scores.names': ('el2n', 'grand', 'random'), 'prune.by': ('el2n',),
      'prune.methods': ('keep_hardest', 'offset', 'random'), 'prune.fractions': (0.5, 0.8),
      'retrain.seeds': (100,), 'runtime.tensorboard': False})
  config.update_from_flattened_dict(overrides or {})
  return config


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('pipeline')
  return workdir, experiment.run(_tiny_config(), workdir)


def test_scores_are_keyed_by_the_dataset_ids(finished):
  workdir, ctx = finished
  ids = sources.load('digits').train['id']
  for name, steps in (('el2n', (0, 10)), ('grand', (0, 10)), ('random', (0,))):
    for step in steps:
      loaded = score_files.load_scores(workdir / 'scores' / f'{name}@{step}.npz', ids=ids,
                                       dataset='digits', score=name)
      assert loaded.per_seed.shape == (2, len(ids)) and loaded.metadata['step'] == step
  el2n_0 = score_files.load_scores(workdir / 'scores' / 'el2n@0.npz').score
  el2n_10 = score_files.load_scores(workdir / 'scores' / 'el2n@10.npz').score
  assert not np.allclose(el2n_0, el2n_10)  # Step 0 really is the initialisation.


def test_subsets_are_exact_and_follow_the_scores(finished):
  workdir, ctx = finished
  data = sources.load('digits')
  num = len(data.train['id'])
  scores = score_files.load_scores(workdir / 'scores' / 'el2n@10.npz', ids=data.train['id'])
  for fraction in (0.5, 0.8):
    hardest, meta = prune.load_subset(ctx, f'keep_hardest-el2n@10-p{fraction:g}')
    assert len(hardest) == len(set(hardest)) == round((1 - fraction) * num) == meta['size']
    kept = np.isin(data.train['id'], hardest)
    assert scores.score[kept].min() >= scores.score[~kept].max()
    offset, _ = prune.load_subset(ctx, f'offset-el2n@10-p{fraction:g}')
    top = data.train['id'][np.argsort(-scores.score, kind='stable')[:round(0.02 * num)]]
    assert len(offset) == len(hardest) and not set(top) & set(offset)


def test_random_subsets_are_drawn_per_retraining_seed(tmp_path):
  """As the authors' code: every retraining seed gets its own random subset (the default)."""
  ctx = Context(_tiny_config({'retrain.seeds': (100, 101)}), tmp_path)
  entry = dict(method='random', fraction_pruned=0.5)
  kept = prune.select(ctx, entry)
  num = len(ctx.data.train['label'])
  assert kept.shape == (2, num // 2)
  for row, seed in zip(kept, (100, 101)):
    np.testing.assert_array_equal(row, pruning.random_subset(num, num // 2,
                                                             pruning_methods.subset_seed(0, seed)))
  assert not np.array_equal(kept[0], kept[1])
  one = Context(_tiny_config({'retrain.seeds': (100, 101),
                              'prune.kwargs.random.per_seed': False}), tmp_path)
  np.testing.assert_array_equal(prune.select(one, entry), pruning.random_subset(num, num // 2, 0))


def test_random_subsets_differ_by_seed(finished, tmp_path):
  _, ctx = finished
  other = Context(_tiny_config({'prune.seed': 1}), tmp_path)
  entry = dict(method='random', fraction_pruned=0.5)
  assert not np.array_equal(prune.select(ctx, entry), prune.select(other, entry))


def test_results_and_report_files(finished):
  workdir, _ = finished
  rows = json.loads((workdir / 'results.json').read_text())
  subsets = {r['subset'] for r in rows}
  assert 'full' in subsets and len(subsets) == 1 + 2 * 3
  assert all(0.1 < r['test_accuracy'] <= 1 and r['steps'] == 30 for r in rows)
  assert (workdir / 'results.csv').read_text().count('\n') == len(rows) + 1
  for name in ('accuracy.png', 'scores.png', 'summary.md', 'spearman.json'):
    assert (workdir / name).stat().st_size > 0
  summary = (workdir / 'summary.md').read_text()
  assert '| full | 0 |' in summary and 'random-p0.8' in summary


def test_noise_detection_is_perfect_for_a_score_that_marks_the_noise():
  is_noisy = np.zeros(100, bool)
  is_noisy[::7] = True
  marked = np.where(is_noisy, 1.0, 0.0) + np.linspace(0, 0.5, 100)
  result = report.noise_detection({'marked': marked, 'reversed': -marked}, is_noisy)
  assert result['marked'] == {'auroc': 1.0, 'precision_at_k': 1.0}
  assert result['reversed']['auroc'] == 0.0


def test_interrupted_run_finishes_without_redoing_stages(tmp_path, monkeypatch):
  config = _tiny_config({'prune.fractions': (0.5,), 'prune.methods': ('keep_hardest', 'random')})
  partial = _tiny_config({
      'prune.fractions': (0.5,), 'prune.methods': ('keep_hardest', 'random'),
      'stages': ('pretrain', 'score')})
  experiment.run(partial, tmp_path)
  score_file = tmp_path / 'scores' / 'el2n@10.npz'
  before = score_file.stat().st_mtime_ns
  # Crash in the middle of retraining, after the first run finished.
  real_train = retrain.loop.train_ensemble
  calls = []

  def crash_on_second(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
      raise KeyboardInterrupt('simulated kill')
    return real_train(*args, **kwargs)

  monkeypatch.setattr(retrain.loop, 'train_ensemble', crash_on_second)
  with pytest.raises(KeyboardInterrupt):
    experiment.run(config, tmp_path)
  full_result = (tmp_path / 'retrain' / 'full' / 'result.json').read_text()
  monkeypatch.setattr(retrain.loop, 'train_ensemble', real_train)
  experiment.run(config, tmp_path)
  assert score_file.stat().st_mtime_ns == before  # Scoring was not redone.
  assert (tmp_path / 'retrain' / 'full' / 'result.json').read_text() == full_result
  assert sorted(p.stem for p in (tmp_path / 'stages').glob('*.done')) == [
      'pretrain', 'prune', 'report', 'retrain', 'score']


def test_unknown_stage_and_method():
  with pytest.raises(ValueError, match=r"Unknown stages \['scoring'\]; valid stages: pretrain"):
    experiment.run(_tiny_config({'stages': ('scoring',)}), '/nonexistent')
  ctx = Context(_tiny_config({'prune.methods': ('easiest',)}), Path('/nonexistent'))
  with pytest.raises(ValueError, match=r"Unknown pruning methods \['easiest'\]"):
    prune.subset_plan(ctx)


def test_keep_list_csv_for_an_image_folder(tmp_path, write_image_folder):
  write_image_folder(tmp_path / 'images', per_class=4)
  config = _tiny_config({
      'data.name': f'image_folder:{tmp_path / "images"}', 'scores.steps': (0,),
      'prune.by': ('el2n',), 'prune.methods': ('keep_hardest',), 'prune.fractions': (0.75,)})
  ctx = Context(config, tmp_path / 'run')
  ids = ctx.data.train['id']
  score_files.save_scores(ctx.score_path('el2n', 0), ids, np.arange(len(ids), dtype=float),
                          score='el2n', dataset=ctx.data.name, model='mlp', step=0,
                          seeds=list(config.pretrain.seeds))
  prune.prune(ctx)
  lines = (ctx.subsets_dir / 'keep_hardest-el2n@0-p0.75.csv').read_text().splitlines()
  assert lines == ['file', 'dog/02.png', 'dog/03.png']  # The two highest scores.


def test_transfer_scores_two_architectures_and_correlates_them(tmp_path):
  config = _tiny_config({
      'model.name': 'small_cnn', 'retrain.model': 'mlp', 'scores.compare_models': ('mlp',),
      'scores.names': ('el2n', 'random'), 'prune.by': ('el2n', 'mlp:el2n'),
      'prune.methods': ('keep_hardest',), 'prune.fractions': (0.5,)})
  ctx = experiment.run(config, tmp_path)
  ids = ctx.data.train['id']
  cnn = score_files.load_scores(tmp_path / 'scores' / 'el2n@10.npz', ids=ids).score
  mlp = score_files.load_scores(tmp_path / 'scores_mlp' / 'el2n@10.npz', ids=ids)
  assert mlp.metadata['model'] == 'mlp' and not np.allclose(cnn, mlp.score)
  by_architecture = json.loads((tmp_path / 'spearman_architectures.json').read_text())
  assert sorted(by_architecture) == ['el2n@0', 'el2n@10']  # Not the model-free random score.
  assert by_architecture['el2n@10']['mlp']['small_cnn'] == pytest.approx(
      scipy.stats.spearmanr(cnn, mlp.score).statistic, abs=1e-12)
  # Each subset follows its own architecture's scores; every retraining run trains the MLP.
  for name, values in (('keep_hardest-el2n@10-p0.5', cnn),
                       ('keep_hardest-mlp.el2n@10-p0.5', mlp.score)):
    kept_ids, meta = prune.load_subset(ctx, name)
    kept = np.isin(ids, kept_ids)
    assert values[kept].min() >= values[~kept].max()
  rows = json.loads((tmp_path / 'results.json').read_text())
  assert {r['model'] for r in rows} == {'mlp'}
  assert {r['score_model'] for r in rows} == {None, 'small_cnn', 'mlp'}
  assert '## el2n@10: Spearman rank correlation between architectures' in (
      tmp_path / 'summary.md').read_text()


def test_prune_by_an_unscored_model_is_refused():
  ctx = Context(_tiny_config({'prune.by': ('resnet18:el2n',)}), Path('/nonexistent'))
  with pytest.raises(ValueError, match=r"names model 'resnet18', which is not scored; scored "
                                       r"models: mlp \(add it to config.scores.compare_models\)"):
    prune.subset_plan(ctx)


def test_report_has_score_diagnostics(finished):
  workdir, _ = finished
  saved = json.loads((workdir / 'score_diagnostics.json').read_text())
  per_seed = score_files.load_scores(workdir / 'scores' / 'el2n@10.npz').per_seed
  two_seeds = saved['per_score']['el2n@10']
  assert two_seeds['num_seeds'] == 2
  assert two_seeds['stability'] == pytest.approx(
      scipy.stats.spearmanr(per_seed[0], per_seed[1]).statistic)
  assert two_seeds['single_vs_others'] == pytest.approx([two_seeds['stability']] * 2)
  el2n_0 = score_files.load_scores(workdir / 'scores' / 'el2n@0.npz').score
  assert saved['between_steps']['el2n']['0→10'] == pytest.approx(
      scipy.stats.spearmanr(el2n_0, per_seed.mean(0)).statistic)
  assert (workdir / 'score_diagnostics.png').stat().st_size > 0
  assert '## How stable are the scores?' in (workdir / 'summary.md').read_text()


def test_the_default_pipeline_with_the_airbench_model_on_an_image_folder(tmp_path,
                                                                         write_image_folder):
  """``--config.model.name=airbench`` through launch.py: every stage runs, and GraNd takes its
  fast path (the whitening bias included)."""
  write_image_folder(tmp_path / 'images', classes=('cat', 'dog', 'eel'), per_class=8, size=12)
  workdir = tmp_path / 'run'
  result = subprocess.run(
      [sys.executable, 'launch.py', '--config=configs/default.py', f'--workdir={workdir}',
       f'--config.data.name=image_folder:{tmp_path / "images"}', '--config.model.name=airbench',
       "--config.model.kwargs={'widths': (4, 8, 8), 'fit_examples': 10}",
       '--config.optim.batch_size=8', '--config.optim.budget=6', '--config.scores.steps=(0,3)',
       "--config.scores.names=('el2n','grand')", "--config.prune.by=('el2n','grand')",
       "--config.prune.methods=('keep_hardest','random')", '--config.prune.fractions=(0.5,)',
       '--config.retrain.seeds=(100,)', '--config.pretrain.seeds=(0,1)',
       '--config.runtime.eval_batch_size=8', '--config.runtime.score_batch_size=8',
       '--config.runtime.tensorboard=False'],
      cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'falling back to the generic path' not in result.stderr
  results = json.loads((workdir / 'results.json').read_text())
  assert {r['subset'] for r in results} == {'full', 'keep_hardest-el2n@3-p0.5',
                                            'keep_hardest-grand@3-p0.5', 'random-p0.5'}
  grand = score_files.load_scores(workdir / 'scores' / 'grand@3.npz')
  assert grand.per_seed.shape == (2, 24) and np.all(np.isfinite(grand.per_seed))
  assert np.all(grand.per_seed > 0)


def test_extra_subsets_join_the_plan_once_each():
  ctx = Context(_tiny_config({'prune.extra': (
      ('keep_hardest', 'el2n@0', 0.3), ('keep_hardest', 'el2n', 0.5), ('random', '', 0.3),
      ('keep_hardest', 'el2n@0', 0.3))}), Path('/nonexistent'))
  names = [entry['name'] for entry in prune.subset_plan(ctx)]
  product = [f'{method}-p{f:g}' if method == 'random' else f'{method}-el2n@10-p{f:g}'
             for f in (0.5, 0.8) for method in ('keep_hardest', 'offset', 'random')]
  # keep_hardest-el2n@10-p0.5 is in the product already; the repeated entry joins once.
  assert names == product + ['keep_hardest-el2n@0-p0.3', 'random-p0.3']
  (extra,) = [e for e in prune.subset_plan(ctx) if e['name'] == 'keep_hardest-el2n@0-p0.3']
  assert (extra['method'], extra['score'], extra['step'], extra['fraction_pruned']) == (
      'keep_hardest', 'el2n', 0, 0.3)


@pytest.mark.parametrize('extra, message', [
    (('keep_hardest', 'el2n'), r"entries are \(method, '<score>\[@<step>\]', fraction\)"),
    (('keep_hardest', '', 0.5), r'keep_hardest keeps by a score: give one'),
    (('random', 'el2n@0', 0.5), r"random reads no score: give ''"),
    (('hardest', 'el2n@0', 0.5), r"Unknown pruning methods \['hardest'\]"),
    (('keep_hardest', 'el2n@0', 1.0), r'fraction'),
])
def test_bad_extra_subsets_are_refused(extra, message):
  ctx = Context(_tiny_config({'prune.extra': (extra,)}), Path('/nonexistent'))
  with pytest.raises(ValueError, match=message):
    prune.subset_plan(ctx)


def test_an_extra_subset_by_an_uncomputed_step_is_refused_up_front():
  config = _tiny_config({'prune.extra': (('keep_hardest', 'el2n@5', 0.5),)})
  with pytest.raises(ValueError, match=r'keep_hardest-el2n@5-p0.5 prunes by el2n at step 5, '
                                       r'which this run does not compute'):
    preflight.check(config)


def test_scoring_seeds_take_their_own_label_smoothing():
  config = _tiny_config({'optim.label_smoothing': 0.2})
  assert pretrain_and_score.scoring_seeds_config(config) is config  # None: the recipe's.
  config.pretrain.label_smoothing = 0.0
  scoring = pretrain_and_score.scoring_seeds_config(config)
  assert scoring.optim.label_smoothing == 0.0 and config.optim.label_smoothing == 0.2
  assert scoring.optim.to_dict() | {'label_smoothing': 0.2} == config.optim.to_dict()
  config.pretrain.label_smoothing = 1.0
  with pytest.raises(ValueError, match=r'config.pretrain.label_smoothing must be in \[0, 1\)'):
    preflight.check(config)


def test_pretraining_trains_with_the_scoring_seeds_label_smoothing(tmp_path, monkeypatch):
  trained = []

  def capture(config, *args, **kwargs):
    trained.append(config.optim.label_smoothing)
    raise KeyboardInterrupt  # Its config is all this test needs.

  monkeypatch.setattr(pretrain_and_score.loop, 'train_ensemble', capture)
  config = _tiny_config({'optim.label_smoothing': 0.2, 'pretrain.label_smoothing': 0.05})
  with pytest.raises(KeyboardInterrupt):
    experiment.run(config, tmp_path)
  assert trained == [0.05]


def test_a_bare_score_name_is_where_the_run_computes_it():
  """AUM exists at the end of pretraining only: 'aum' means aum@30; EL2N, computed at every
  scoring step, means the last (or prune.step)."""
  ctx = Context(_tiny_config({'scores.names': ('el2n', 'aum'), 'prune.by': ('aum', 'el2n'),
                              'prune.methods': ('keep_hardest',), 'prune.fractions': (0.5,)}),
                Path('/nonexistent'))
  assert [e['name'] for e in prune.subset_plan(ctx)] == [
      'keep_hardest-aum@30-p0.5', 'keep_hardest-el2n@10-p0.5']
  ctx.config.prune.step = 0
  assert [e['name'] for e in prune.subset_plan(ctx)] == [
      'keep_hardest-aum@30-p0.5', 'keep_hardest-el2n@0-p0.5']
  preflight.check(ctx.config)  # Both are computed: nothing to refuse.


def test_retrain_budget_steps_changes_the_retraining_runs_only(tmp_path, finished):
  config = _tiny_config({'prune.methods': ('random',), 'prune.fractions': (0.5,),
                         'retrain.budget_steps': 7})
  experiment.run(config, tmp_path)
  rows = json.loads((tmp_path / 'results.json').read_text())
  assert {r['steps'] for r in rows} == {7} and len(rows) == 2
  # The scoring seeds trained as without it: the same scores as the run of _tiny_config().
  reference, _ = finished
  for name in ('el2n@10.npz', 'grand@10.npz'):
    np.testing.assert_array_equal(score_files.load_scores(tmp_path / 'scores' / name).per_seed,
                                  score_files.load_scores(reference / 'scores' / name).per_seed)
  scoring = retrain.retraining_config(config)
  assert (scoring.optim.budget, scoring.optim.budget_unit) == (7, 'steps')
  assert config.optim.budget == 30  # The config itself is untouched.
  config.retrain.budget_steps = 0
  with pytest.raises(ValueError, match='retrain.budget_steps'):
    preflight.check(config)
