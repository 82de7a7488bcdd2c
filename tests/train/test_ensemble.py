"""Ensemble step: every local-seed strategy computes the same update as a single-seed step."""

import jax
import numpy as np
import optax
import pytest

from datadiet import models
from datadiet.data import pipeline
from datadiet.train import ensemble


STATS = pipeline.ChannelStats(mean=(0.4, 0.5), std=(0.2, 0.3))


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
                                 pipeline.normalize(batch['image'][0, 0], STATS), 6, mesh)
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

