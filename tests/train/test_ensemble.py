"""Ensemble step: every local-seed strategy computes the same update as a single-seed step; so
does airbench's recipe; evaluation averages test-time views."""

import jax
import numpy as np
import optax
import pytest

from configs import cifar10_airbench
from datadiet import models
from datadiet.data import augment, normalization
from datadiet.train import ensemble, optim
from datadiet.train.lookahead import Lookahead


STATS = normalization.ChannelStats(mean=(0.4, 0.5), std=(0.2, 0.3))


def _state_and_batch(model_name, seeds):
  model = models.get_model(model_name, num_classes=3, batch_norm_axis_name=ensemble.DATA, **(
      {'widths': (3, 4)} if model_name == 'small_cnn' else {'hidden': (5,)}))
  optimizer = optax.sgd(0.1, momentum=0.9)
  mesh = ensemble.make_mesh(len(seeds))
  rng = np.random.default_rng(0)
  batch = {'image': rng.integers(0, 256, (len(seeds), 6, 8, 8, 2), dtype=np.uint8),
           'label': rng.integers(0, 3, (len(seeds), 6)).astype(np.int32),
           'index': np.tile(np.arange(6, dtype=np.int32), (len(seeds), 1))}
  state = ensemble.init_ensemble(model, optimizer, seeds,
                                 normalization.normalize(batch['image'][0, 0], STATS), 6, mesh)
  return model, optimizer, mesh, state, batch


@pytest.mark.parametrize('model_name', ['mlp', 'small_cnn'])
def test_strategies_agree_with_single_seed_steps(model_name):
  model, optimizer, mesh, state, batch = _state_and_batch(model_name, [0, 1, 2])
  results = {}
  for strategy in ensemble.STRATEGIES:
    step = ensemble.make_train_step(model, optimizer, mesh, strategy, STATS)
    new_state, metrics = step(jax.tree.map(np.copy, jax.device_get(state)), batch, {})
    results[strategy] = (jax.device_get(new_state.params), np.asarray(metrics['loss']))
  for k in range(3):  # Seed k alone, as a one-seed ensemble.
    _, _, mesh1, _, _ = _state_and_batch(model_name, [k])
    one = jax.tree.map(lambda a: a[k:k + 1], jax.device_get(state))
    single, metrics = ensemble.make_train_step(model, optimizer, mesh1, 'unroll', STATS)(
        one, {key: v[k:k + 1] for key, v in batch.items()}, {})
    for strategy, (params, losses) in results.items():
      np.testing.assert_allclose(losses[k], np.asarray(metrics['loss'])[0], rtol=1e-5)
      for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(jax.device_get(single.params))):
        np.testing.assert_allclose(a[k], b[0], rtol=1e-4, atol=1e-6)


def test_auto_strategy_and_errors():
  _, _, _, mlp_state, _ = _state_and_batch('mlp', [0])
  _, _, _, cnn_state, _ = _state_and_batch('small_cnn', [0])
  assert ensemble.resolve_strategy('auto', mlp_state.params) == 'vmap'
  assert ensemble.resolve_strategy('auto', cnn_state.params) == 'unroll'
  with pytest.raises(ValueError, match='valid: vmap, unroll, map, auto'):
    ensemble.resolve_strategy('pmap', mlp_state.params)



def _airbench_run(seeds, steps=6):
  """airbench's recipe (its config in miniature: parameter groups, label smoothing, lookahead)
  trained for ``steps`` steps as one ensemble of ``seeds``."""
  config = cifar10_airbench.get_config('smoke')
  config.optim.lookahead.every_steps = 2  # Moves several times in 6 steps.
  model = models.get_model('airbench', num_classes=3, widths=(4, 8, 8))
  optimizer = optim.make_optimizer(config, 8)
  lookahead = Lookahead.from_config(config, 8)
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (2, steps, 6, 12, 12, 2), dtype=np.uint8)
  labels = rng.integers(0, 3, (2, steps, 6)).astype(np.int32)
  fitted = [model.fit_constants(normalization.normalize(images[k, 0], STATS)) for k in seeds]
  mesh = ensemble.make_mesh(len(seeds))
  state = ensemble.init_ensemble(model, optimizer, seeds,
                                 normalization.normalize(images[0, 0, 0], STATS), 6, mesh,
                                 constants=fitted, lookahead=lookahead)
  step_fn = ensemble.make_train_step(model, optimizer, mesh, 'unroll', STATS,
                                     loss_fn=optim.training_loss(config), lookahead=lookahead)
  for t in range(steps):
    batch = {'image': images[seeds, t], 'label': labels[seeds, t],
             'index': np.tile(np.arange(6, dtype=np.int32), (len(seeds), 1))}
    state, _ = step_fn(state, batch, {})
  return jax.device_get(state)


def test_airbench_recipe_ensemble_equals_each_seed_alone():
  both = _airbench_run([0, 1])
  assert both.lookahead and both.constants  # The slow copy and the fitted whitening travel.
  for k in (0, 1):
    alone = _airbench_run([k])
    for part in ('params', 'batch_stats', 'constants', 'lookahead', 'opt_state'):
      for a, b in zip(jax.tree.leaves(getattr(both, part)), jax.tree.leaves(getattr(alone, part))):
        np.testing.assert_allclose(a[k], b[0], rtol=1e-4, atol=1e-6)


def test_eval_step_averages_the_test_views_logits():
  model, optimizer, mesh, state, batch = _state_and_batch('small_cnn', [0, 1])
  images = np.random.default_rng(2).integers(0, 256, (5, 8, 8, 2), dtype=np.uint8)
  labels = np.array([0, 1, 2, 0, 1], np.int32)
  eval_batch = {'image': images, 'label': labels, 'mask': np.array([1, 1, 1, 1, 0], bool)}
  host = jax.device_get(state)
  for test_augment in ('none', 'flip', 'flip_translate'):
    out = ensemble.make_eval_step(model, mesh, 'unroll', STATS, test_augment)(state, eval_batch, {})
    for k in range(2):
      variables = {'params': jax.tree.map(lambda a, k=k: a[k], host.params),
                   'batch_stats': jax.tree.map(lambda a, k=k: a[k], host.batch_stats)}
      x = normalization.normalize(images, STATS)
      logits = sum(w * model.apply(variables, v, train=False)  # The views, weighted by hand.
                   for w, v in augment.test_views(x, test_augment))
      correct = (np.argmax(logits, -1) == labels)[:4].sum()
      assert int(out['correct'][k]) == correct
      losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)[:4]
      np.testing.assert_allclose(out['loss_sum'][k], losses.sum(), rtol=1e-5)
