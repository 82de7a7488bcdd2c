"""The seed axis: every strategy maps a function as a loop over seeds would."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet import errors, models, seed_axis
from datadiet.scores import el2n, grand, over_seeds, stack_seeds


@pytest.mark.parametrize('strategy', ['map', 'vmap', 'unroll'])
@pytest.mark.parametrize('score', ['el2n', 'grand'])
def test_over_seeds_equals_seed_by_seed(score, strategy):
  model = models.SmallCNN(num_classes=4, widths=(3, 5))
  x = jax.random.normal(jax.random.key(0), (6, 8, 8, 2))
  y = jnp.arange(6) % 4
  mask = jnp.arange(6) < 5
  members = [model.init(jax.random.key(seed), x[:1]) for seed in range(3)]

  def score_fn(variables, x, y, mask):
    if score == 'el2n':
      return el2n(model.apply(variables, x), y, mask)
    return grand(model, variables, x, y, mask, method='fast')

  per_seed, mean = jax.jit(lambda s, *a: over_seeds(score_fn, s, *a, strategy=strategy))(
      stack_seeds(members), x, y, mask)
  looped = np.stack([np.asarray(score_fn(m, x, y, mask)) for m in members])
  np.testing.assert_allclose(np.asarray(per_seed), looped, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(np.asarray(mean), looped.mean(0), rtol=1e-5, atol=1e-7)
  assert not np.allclose(looped[0], looped[1])  # Seeds really differ.


def test_mismatched_seed_axis_is_an_error():
  with pytest.raises(ValueError, match='seed axis'):
    over_seeds(lambda m: m['a'], {'a': jnp.zeros((2, 3)), 'b': jnp.zeros((3,))})


def test_unknown_strategy_lists_the_valid_ones():
  with pytest.raises(errors.InputError, match="Unknown seed strategy 'loop'; valid: vmap, "
                                              'unroll, map'):
    seed_axis.map_over_seeds(lambda x: x, 'loop')
