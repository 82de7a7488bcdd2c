"""Block NTK Gram matrices against closed forms and a materialised Jacobian; velocity."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet.dynamics import ntk


@pytest.mark.parametrize('method', ['per_example', 'vector_products', 'jacobian'])
def test_linear_model_gram_is_num_logits_times_x_xt(method):
  x = jax.random.normal(jax.random.key(0), (7, 5))
  w = jax.random.normal(jax.random.key(1), (5, 3))
  gram = ntk.block_gram(lambda p, inputs: inputs @ p, w, x, method=method, chunk_size=4)
  np.testing.assert_allclose(gram, 3 * x @ x.T, rtol=1e-5, atol=1e-5)


class _Net(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.tanh(nn.Dense(6)(x))
    return nn.Dense(4)(x)


@pytest.mark.parametrize('method', ['per_example', 'vector_products'])
@pytest.mark.parametrize('chunk_size', [None, 1, 5])
def test_fast_methods_match_the_materialised_jacobian(method, chunk_size):
  net = _Net()
  x = jax.random.normal(jax.random.key(2), (9, 3))
  params = net.init(jax.random.key(3), x)
  logits_fn = lambda p, inputs: net.apply(p, inputs)
  fast = jax.jit(lambda p, inputs: ntk.block_gram(logits_fn, p, inputs, method=method,
                                                  chunk_size=chunk_size))
  reference = ntk.block_gram(logits_fn, params, x, method='jacobian')
  np.testing.assert_allclose(fast(params, x), reference, rtol=1e-5, atol=1e-6)
  # A direct loop over pairs and logits.
  grads = [[jax.grad(lambda p, i=i, k=k: net.apply(p, x[i:i + 1])[0, k])(params)
            for k in range(4)] for i in range(9)]
  dot = lambda a, b: sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
  looped = np.array([[sum(dot(grads[i][k], grads[j][k]) for k in range(4)) for j in range(9)]
                     for i in range(9)])
  np.testing.assert_allclose(reference, looped, rtol=1e-5, atol=1e-6)


class _ConvBN(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.Conv(3, (3, 3))(x)
    x = nn.BatchNorm(use_running_average=True)(x)
    return nn.Dense(5)(nn.relu(x).mean((1, 2)))


def test_per_example_gram_of_a_conv_net_in_eval_mode():
  net = _ConvBN()
  x = jax.random.normal(jax.random.key(4), (6, 5, 5, 2))
  variables = net.init(jax.random.key(5), x)
  # Non-trivial running statistics, which evaluation mode uses.
  variables = {'params': variables['params'], 'batch_stats': jax.tree.map(
      lambda s: s + 0.3, variables['batch_stats'])}
  logits_fn = lambda p, inputs: net.apply({'params': p, 'batch_stats': variables['batch_stats']},
                                          inputs)
  reference = ntk.block_gram(logits_fn, variables['params'], x, method='jacobian')
  for method in ('per_example', 'vector_products'):
    np.testing.assert_allclose(ntk.block_gram(logits_fn, variables['params'], x, method=method,
                                              chunk_size=4), reference, rtol=2e-5, atol=1e-5)


def test_auto_materialises_only_what_fits(monkeypatch):
  net = _Net()
  x = jax.random.normal(jax.random.key(2), (4, 3))
  params = net.init(jax.random.key(3), x)
  size = ntk.jacobian_bytes(params, 4, 4)
  assert size == 4 * 4 * (3 * 6 + 6 + 6 * 4 + 4) * 4
  chosen = []
  original = jax.lax.map
  monkeypatch.setattr(jax.lax, 'map', lambda f, xs, **kw: chosen.append(xs.shape) or
                      original(f, xs, **kw))
  logits_fn = lambda p, inputs: net.apply(p, inputs)
  big = ntk.block_gram(logits_fn, params, x, max_jacobian_bytes=size)
  small = ntk.block_gram(logits_fn, params, x, max_jacobian_bytes=size - 1)
  # lax.map runs over the 4 examples (per example), then over the 16 cotangents.
  assert chosen == [(4, 3), (16,)]
  np.testing.assert_allclose(big, small, rtol=1e-5, atol=1e-6)


def test_velocity():
  gram = jnp.array([[2.0, 1.0], [1.0, 3.0]])
  assert float(ntk.velocity(gram, gram)) == pytest.approx(0.0, abs=1e-7)
  assert float(ntk.velocity(gram, 5 * gram)) == pytest.approx(0.0, abs=1e-7)
  assert float(ntk.velocity(jnp.eye(2), jnp.array([[0.0, 1.0], [1.0, 0.0]]))) == 1.0
  other = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  expected = 1 - 5 / (np.sqrt(15) * np.sqrt(2))
  assert float(ntk.velocity(gram, other)) == pytest.approx(expected, rel=1e-6)
