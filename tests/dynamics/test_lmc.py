"""Interpolation, BatchNorm recomputation and error barriers against direct computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet import models
from datadiet.dynamics import lmc


def test_error_barrier_by_hand():
  alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
  # Endpoints 0.1 and 0.3: the chord at 0.5 is 0.2, the path is 0.5 there → barrier 0.3.
  assert lmc.error_barrier(alphas, [0.3, 0.35, 0.5, 0.2, 0.1]) == pytest.approx(0.3)
  assert lmc.error_barrier(alphas, [0.2] * 5) == 0.0  # A network with itself.
  with pytest.raises(ValueError, match='must include 0 and 1'):
    lmc.error_barrier([0.0, 0.5], [0.1, 0.2])


def test_barrier_above_the_endpoint_mean_by_hand():
  """Frankle et al. (2020): the peak minus the mean of the endpoints, not minus the chord."""
  alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
  assert lmc.barrier_above_endpoint_mean(alphas, [0.3, 0.35, 0.5, 0.2, 0.1]) == \
      pytest.approx(0.5 - 0.2)
  # Unequal endpoints, the peak at one of them: the chord form gives 0, the mean form does not.
  falling = [0.4, 0.35, 0.3, 0.25, 0.2]
  assert lmc.error_barrier(alphas, falling) == pytest.approx(0.0)
  assert lmc.barrier_above_endpoint_mean(alphas, falling) == pytest.approx(0.1)
  bump = [0.2, 0.3, 0.6, 0.3, 0.2]  # Equal endpoints: the two forms agree.
  assert lmc.barrier_above_endpoint_mean(alphas, bump) == \
      pytest.approx(lmc.error_barrier(alphas, bump))
  with pytest.raises(ValueError, match='must include 0 and 1'):
    lmc.barrier_above_endpoint_mean([0.0, 0.5], [0.1, 0.2])


def _small_cnn(seed, images):
  model = models.get_model('small_cnn', num_classes=3)
  variables = model.init(jax.random.key(seed), images[:1], train=False)
  return model, variables


def test_batch_statistics_are_the_batch_mean_and_variance_of_the_first_layer():
  images = jax.random.normal(jax.random.key(0), (16, 8, 8, 3)) * 2 + 1
  model, variables = _small_cnn(0, images)
  stats = lmc.batch_statistics(model, variables['params'], variables['batch_stats'], images)
  # The first BatchNorm normalises the first convolution's output.
  conv = jax.lax.conv_general_dilated(
      images, variables['params']['Conv_0']['kernel'], (1, 1), 'SAME',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + variables['params']['Conv_0'].get('bias', 0)
  np.testing.assert_allclose(stats['BatchNorm_0']['mean'], conv.mean((0, 1, 2)), rtol=1e-4,
                             atol=1e-5)
  np.testing.assert_allclose(stats['BatchNorm_0']['var'], conv.var((0, 1, 2)), rtol=1e-4,
                             atol=1e-5)


def test_recomputed_statistics_average_the_batches_and_differ_from_stale_ones():
  images = jax.random.normal(jax.random.key(1), (32, 8, 8, 3))
  model, a = _small_cnn(0, images)
  _, b = _small_cnn(1, images)
  mid = lmc.interpolate(a['params'], b['params'], 0.5)
  recomputed = lmc.recompute_batch_stats(model, mid, a['batch_stats'],
                                         [images[:16], images[16:]])
  halves = [lmc.batch_statistics(model, mid, a['batch_stats'], x)
            for x in (images[:16], images[16:])]
  expected = jax.tree.map(lambda x, y: (x + y) / 2, *halves)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6),
               recomputed, expected)
  stale = a['batch_stats']  # Initial statistics: mean 0, variance 1.
  assert not np.allclose(recomputed['BatchNorm_0']['mean'], stale['BatchNorm_0']['mean'])


def test_interpolation_endpoints_and_midpoint():
  a = {'w': jnp.array([1.0, 2.0])}
  b = {'w': jnp.array([3.0, 6.0])}
  np.testing.assert_allclose(lmc.interpolate(a, b, 1.0)['w'], a['w'])
  np.testing.assert_allclose(lmc.interpolate(a, b, 0.0)['w'], b['w'])
  np.testing.assert_allclose(lmc.interpolate(a, b, 0.25)['w'], [2.5, 5.0])
