"""The ensemble training loop on tiny data: runs, learns, logs, resumes exactly, stops on NaN."""

import json

import jax
import numpy as np
import pytest

from configs import cifar10_airbench
from datadiet import models
from datadiet.data import feed, normalization, sources
from datadiet.scores import forgetting
from datadiet.train import loop


@pytest.fixture(scope='module')
def digits():
  return sources.load('digits')


def _params(result):
  return jax.tree.leaves(jax.device_get(result.state.params))


def test_one_step(tiny_config, digits, tmp_path):
  tiny_config.optim.budget = 1
  result = loop.train_ensemble(tiny_config, tmp_path, digits, seeds=[0, 1],
                               trackers=(forgetting.TRACKER,))
  assert result.num_steps == 1
  assert np.asarray(result.state.step).tolist() == [1, 1]
  # One step touches exactly one batch per seed.
  presentations = result.state.trackers['forgetting'].presentations
  assert np.asarray(presentations).sum(axis=1).tolist() == [32, 32]


def test_no_tracker_is_carried_unless_asked_for(tiny_config, digits, tmp_path):
  tiny_config.optim.budget = 1
  assert loop.train_ensemble(tiny_config, tmp_path, digits, seeds=[0]).state.trackers == {}


def test_runs_of_one_recipe_share_one_traced_step_and_train_as_each_alone(tiny_config, digits,
                                                                        tmp_path):
  # The retraining runs of a pipeline: two subsets, one recipe; then a third with another one.
  subsets = (np.arange(0, 300), np.arange(400, 700))
  fresh = []
  for i, keep in enumerate(subsets):  # Each with steps made for it alone.
    loop._TRAIN_STEPS.clear()  # pylint: disable=protected-access
    fresh.append(_params(loop.train_ensemble(tiny_config, tmp_path / f'fresh{i}', digits,
                                             seeds=[0, 1], keep_positions=keep)))
  loop._TRAIN_STEPS.clear()  # pylint: disable=protected-access
  traces = []
  for i, keep in enumerate(subsets):
    shared = _params(loop.train_ensemble(tiny_config, tmp_path / f'shared{i}', digits,
                                         seeds=[0, 1], keep_positions=keep))
    for a, b in zip(fresh[i], shared):
      np.testing.assert_array_equal(a, b)
    (step,) = loop._TRAIN_STEPS.values()  # pylint: disable=protected-access
    traces.append(step._cache_size())  # pylint: disable=protected-access
  assert traces[1] == traces[0]  # The second run traced nothing new.
  tiny_config.optim.learning_rate = 0.01
  loop.train_ensemble(tiny_config, tmp_path / 'other', digits, seeds=[0, 1],
                      keep_positions=subsets[0])
  assert len(loop._TRAIN_STEPS) == 2  # pylint: disable=protected-access


def test_few_steps_learn_and_write_metrics(tiny_config, digits, tmp_path):
  tiny_config.optim.budget = 60
  tiny_config.runtime.eval_every_steps = 30
  result = loop.train_ensemble(tiny_config, tmp_path, digits, seeds=[3, 4])
  assert np.all(result.test['accuracy'] > 0.6)  # Chance is 0.1.
  rows = [json.loads(line) for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  train_rows = [r for r in rows if r['split'] == 'train']
  assert [r['step'] for r in train_rows if r['seed'] == 3] == list(range(4, 61, 4))
  assert {r['seed'] for r in rows} == {3, 4}
  assert [r['step'] for r in rows if r['split'] == 'test' and r['seed'] == 4] == [30, 60]
  first, last = train_rows[0], train_rows[-1]
  assert last['loss'] < first['loss']
  # Seeds differ: own initialisation and own data order.
  params = jax.device_get(result.state.params)
  leaf = jax.tree.leaves(params)[0]
  assert not np.allclose(leaf[0], leaf[1])


@pytest.mark.parametrize('input_pipeline', ['device', 'tf_data'])
def test_resume_after_interruption_matches_uninterrupted(tiny_config, digits, tmp_path,
                                                         monkeypatch, input_pipeline):
  tiny_config.runtime.checkpoint_every_steps = 5
  # Bit-identical batches include the augmentation draws.
  tiny_config.data.augment = 'pad_crop_flip'
  tiny_config.runtime.input_pipeline = input_pipeline
  trackers = (forgetting.TRACKER,)
  uninterrupted = loop.train_ensemble(tiny_config, tmp_path / 'a', digits, seeds=[0, 1],
                                      trackers=trackers)

  real_make = loop.ensemble.make_train_step

  def make_crashing(*args, **kwargs):
    step_fn, calls = real_make(*args, **kwargs), []

    def crashing(*args):
      calls.append(1)
      if len(calls) == 10:  # Steps 1-9 ran: logged at 4, 5 and 8; checkpoint at 5.
        raise KeyboardInterrupt('simulated preemption')
      return step_fn(*args)
    return crashing

  monkeypatch.setattr(loop.ensemble, 'make_train_step', make_crashing)
  monkeypatch.setattr(loop, '_TRAIN_STEPS', type(loop._TRAIN_STEPS)())  # Not the one above's.
  with pytest.raises(KeyboardInterrupt):
    loop.train_ensemble(tiny_config, tmp_path / 'b', digits, seeds=[0, 1], trackers=trackers)
  monkeypatch.setattr(loop.ensemble, 'make_train_step', real_make)
  resumed = loop.train_ensemble(tiny_config, tmp_path / 'b', digits, seeds=[0, 1],
                                trackers=trackers)
  assert resumed.start_step == 5
  # The metrics read as an uninterrupted run's: no step logged twice.
  rows = [(r['step'], r['split'], r['seed']) for r in map(
      json.loads, (tmp_path / 'b' / 'metrics.jsonl').read_text().splitlines())]
  assert len(rows) == len(set(rows))
  assert [r[0] for r in rows] == [json.loads(line)['step'] for line in
                                  (tmp_path / 'a' / 'metrics.jsonl').read_text().splitlines()]
  for a, b in zip(_params(uninterrupted), _params(resumed)):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(np.asarray(uninterrupted.state.trackers['forgetting'].forgotten),
                                np.asarray(resumed.state.trackers['forgetting'].forgotten))


def test_non_finite_loss_names_seeds_and_steps(tiny_config, digits, tmp_path):
  tiny_config.optim.learning_rate = 1e30
  with pytest.raises(loop.NonFiniteLossError, match=r'seed\(s\) \[0, 1\] between steps \d+ and'):
    loop.train_ensemble(tiny_config, tmp_path, digits, seeds=[0, 1])


def test_label_noise_mask_is_saved_by_id(tiny_config, tmp_path):
  tiny_config.optim.budget = 2
  tiny_config.data.label_noise_fraction = 0.25
  loop.train_and_evaluate(tiny_config, tmp_path)
  with np.load(tmp_path / 'label_noise.npz') as saved:
    assert saved['is_noisy'].mean() == pytest.approx(0.25, abs=1e-3)
    assert np.all(saved['noisy_label'][saved['is_noisy']] !=
                  saved['true_label'][saved['is_noisy']])
    assert len(saved['ids']) == len(saved['is_noisy'])


def test_bfloat16_run_trains_like_float32(tiny_config, digits, tmp_path):
  tiny_config.update_from_flattened_dict({
      'model.name': 'small_cnn', 'runtime.seed_strategy': 'unroll', 'optim.budget': 80,
      'optim.learning_rate': 0.1})
  curves = {}
  for dtype in ('float32', 'bfloat16'):
    tiny_config.model.compute_dtype = dtype
    result = loop.train_ensemble(tiny_config, tmp_path / dtype, digits, seeds=[0, 1])
    # Parameters and optimizer state stay float32 whatever the compute dtype.
    leaves = jax.tree.leaves((result.state.params, result.state.batch_stats,
                              result.state.opt_state))
    assert {leaf.dtype for leaf in leaves if leaf.dtype.kind == 'f'} == {np.dtype('float32')}
    rows = [json.loads(line) for line in (tmp_path / dtype / 'metrics.jsonl').open()]
    curves[dtype] = np.array([r['loss'] for r in rows if r['split'] == 'train'])
  float32, bfloat16 = curves['float32'], curves['bfloat16']
  assert bfloat16[-1] < 0.5 * bfloat16[0]  # It learns...
  np.testing.assert_allclose(bfloat16, float32, rtol=0.1)  # ...along the float32 run's curve.
  assert not np.array_equal(bfloat16, float32)  # And it did compute in bfloat16.


def test_seeds_on_their_own_subsets_train_as_each_would_alone(tiny_config, digits, tmp_path):
  """Per-seed subsets (random pruning's default): seed k of the ensemble trains on row k."""
  tiny_config.optim.budget = 3
  rng = np.random.default_rng(0)
  per_seed = np.stack([np.sort(rng.choice(len(digits.train['label']), 200, replace=False))
                       for _ in range(2)])
  both = loop.train_ensemble(tiny_config, tmp_path / 'both', digits, seeds=[0, 1],
                             keep_positions=per_seed)
  for k, seed in enumerate((0, 1)):
    alone = loop.train_ensemble(tiny_config, tmp_path / f'alone{seed}', digits, seeds=[seed],
                                keep_positions=per_seed[k])
    for together, single in zip(jax.tree.leaves(jax.device_get(both.state.params)),
                                jax.tree.leaves(jax.device_get(alone.state.params))):
      np.testing.assert_allclose(together[k], single[0], rtol=1e-5, atol=1e-6)


@pytest.fixture
def airbench_folder(tmp_path, write_image_folder):
  write_image_folder(tmp_path / 'images', classes=('cat', 'dog', 'eel'), per_class=8, size=12)
  return sources.load(f'image_folder:{tmp_path / "images"}')


def _airbench_config(data):
  config = cifar10_airbench.get_config('smoke')
  config.data.name = data.name
  config.model.kwargs = dict(widths=(4, 8, 8), fit_examples=10)
  config.optim.batch_size = 8
  config.optim.budget = 12
  config.runtime.tensorboard = False
  return config


def test_airbench_recipe_resumes_bit_identically(airbench_folder, tmp_path, monkeypatch):
  """Killed mid-run and relaunched, airbench's recipe (lookahead's slow copy, the stopped
  whitening bias, the alternating flip) ends exactly where an uninterrupted run ends. (Every
  input path realises the same draws: test_resume_after_interruption_matches_uninterrupted.)"""
  config = _airbench_config(airbench_folder)
  config.runtime.checkpoint_every_steps = 5
  uninterrupted = loop.train_ensemble(config, tmp_path / 'a', airbench_folder, seeds=[0, 1])
  real_make = loop.ensemble.make_train_step

  def make_crashing(*args, **kwargs):
    step_fn, calls = real_make(*args, **kwargs), []

    def crashing(*args):
      calls.append(1)
      if len(calls) == 8:
        raise KeyboardInterrupt('simulated preemption')
      return step_fn(*args)
    return crashing

  monkeypatch.setattr(loop.ensemble, 'make_train_step', make_crashing)
  monkeypatch.setattr(loop, '_TRAIN_STEPS', type(loop._TRAIN_STEPS)())  # Not the one above's.
  with pytest.raises(KeyboardInterrupt):
    loop.train_ensemble(config, tmp_path / 'b', airbench_folder, seeds=[0, 1])
  monkeypatch.setattr(loop.ensemble, 'make_train_step', real_make)
  resumed = loop.train_ensemble(config, tmp_path / 'b', airbench_folder, seeds=[0, 1])
  assert resumed.start_step == 5
  a, b = jax.device_get(uninterrupted.state), jax.device_get(resumed.state)
  assert a.lookahead and a.constants
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)
  np.testing.assert_array_equal(uninterrupted.test['accuracy'], resumed.test['accuracy'])


def test_airbench_whitening_is_fitted_to_the_run_s_own_examples(airbench_folder, tmp_path):
  config = _airbench_config(airbench_folder)
  config.optim.budget = 1
  config.optim.lookahead.every_steps = 1  # At most the run's one step.
  subset = np.arange(0, 24, 2)  # Every other training image.
  trained = loop.train_ensemble(config, tmp_path, airbench_folder, seeds=[0],
                                keep_positions=subset)
  model = models.from_config(config, 3)
  stats = normalization.channel_stats(airbench_folder.train['image'])
  images = feed.fit_images(airbench_folder, subset, 10, stats)
  # 10 of the 12 kept, spread evenly: positions 0, 2, 4, 6, 8, 12, 14, 16, 18, 20 of 24.
  np.testing.assert_array_equal(
      images, normalization.normalize(airbench_folder.train['image'][
          [0, 2, 4, 6, 8, 12, 14, 16, 18, 20]], stats))
  np.testing.assert_array_equal(jax.device_get(trained.state.constants)['whiten']['kernel'][0],
                                model.fit_constants(images)['whiten']['kernel'])


def test_airbench_seeds_on_their_own_subsets_fit_their_own_whitening(airbench_folder, tmp_path):
  config = _airbench_config(airbench_folder)
  config.optim.budget = 1
  config.optim.lookahead.every_steps = 1  # At most the run's one step.
  per_seed = np.stack([np.arange(0, 24, 2), np.arange(1, 24, 2)])
  trained = loop.train_ensemble(config, tmp_path, airbench_folder, seeds=[0, 1],
                                keep_positions=per_seed)
  model = models.from_config(config, 3)
  stats = normalization.channel_stats(airbench_folder.train['image'])
  kernels = jax.device_get(trained.state.constants)['whiten']['kernel']
  for k in range(2):
    expected = model.fit_constants(feed.fit_images(airbench_folder, per_seed[k], 10, stats))
    np.testing.assert_array_equal(kernels[k], expected['whiten']['kernel'])
  assert not np.array_equal(kernels[0], kernels[1])
