"""Lookahead over params and BatchNorm statistics against a plain loop of airbench's rule."""

import jax
import ml_collections
import numpy as np
import pytest

from datadiet import errors
from datadiet.train.lookahead import Lookahead


def _plain_loop(fast_after_each_step, every, decay, power, total):
  """airbench's rule, written out: after step t (1-based), every `every` steps the slow copy
  moves by 1 − decay·(t/T)^power towards the network, which restarts from it; at step T the
  network becomes the slow copy."""
  slow = fast_after_each_step[0].copy()  # The initial network.
  network = slow.copy()
  seen = []
  for t in range(1, total + 1):
    network = network + fast_after_each_step[t]  # The optimizer's update of this step.
    if t % every == 0:
      d = decay * (t / total) ** power
      slow = slow + (1 - d) * (network - slow)
      network = slow.copy()
    if t == total:
      network = slow.copy()
    seen.append(network.copy())
  return seen


@pytest.mark.parametrize('total', [20, 23])  # The last step on the cadence, and off it.
def test_update_follows_the_plain_loop(total):
  rng = np.random.default_rng(0)
  updates = rng.normal(size=(total + 1, 3)).astype(np.float32)
  lookahead = Lookahead(every_steps=5, decay=0.95**5, power=3.0, total_steps=total)
  expected = _plain_loop(updates, 5, 0.95**5, 3.0, total)
  params = {'w': updates[0, :2]}
  batch_stats = {'mean': updates[0, 2:]}
  slow = lookahead.init(params, batch_stats)
  update = jax.jit(lookahead.update)
  for t in range(1, total + 1):
    params = {'w': params['w'] + updates[t, :2]}
    batch_stats = {'mean': batch_stats['mean'] + updates[t, 2:]}
    slow, params, batch_stats = update(slow, params, batch_stats, np.int32(t))
    np.testing.assert_allclose(np.concatenate([params['w'], batch_stats['mean']]),
                               expected[t - 1], rtol=1e-5, atol=1e-6)


def test_early_moves_jump_to_the_network_and_off_changes_nothing():
  lookahead = Lookahead(every_steps=2, decay=0.5, power=3.0, total_steps=1000)
  slow = lookahead.init({'w': np.zeros(2, np.float32)}, {})
  slow, params, _ = lookahead.update(slow, {'w': np.ones(2, np.float32)}, {}, np.int32(2))
  # d = 0.5·(2/1000)^3 ≈ 4e-9: the slow copy is (almost exactly) the network.
  np.testing.assert_allclose(slow['params']['w'], 1.0, rtol=1e-7)
  off = Lookahead.off()
  assert off.init({'w': 1}, {}) == {}
  assert off.update({}, {'w': 3}, {'m': 4}, np.int32(5)) == ({}, {'w': 3}, {'m': 4})


@pytest.mark.parametrize('field, value, message', [
    ('every_steps', -1, 'an integer >= 0'), ('every_steps', 2.5, 'an integer >= 0'),
    ('decay', 1.5, r'in \[0, 1\]'), ('power', -1.0, r'in \[0, inf\]')])
def test_bad_options_are_refused(field, value, message):
  options = dict(every_steps=5, decay=0.5, power=3.0)
  options[field] = value
  config = ml_collections.ConfigDict({'optim': {'lookahead': options}})
  with pytest.raises(errors.InputError, match=f'lookahead.{field} must be {message}'):
    Lookahead.from_config(config, 100)
