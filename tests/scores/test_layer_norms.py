"""Per-layer kernels: ghost and materialised norms against per-example autodiff of lax ops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet.scores import layer_norms


@pytest.mark.parametrize('method', ['ghost', 'materialize'])
def test_dense_with_positions(method):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(4, 5, 3)).astype(np.float32)
  g = rng.normal(size=(4, 5, 2)).astype(np.float32)
  want = [np.sum((x[i].T.astype(np.float64) @ g[i]) ** 2) for i in range(4)]
  np.testing.assert_allclose(np.asarray(layer_norms.dense_sq_norms(x, g, method)), want,
                             rtol=1e-5)


@pytest.mark.parametrize('method', ['ghost', 'materialize'])
@pytest.mark.parametrize('strides,dilation,padding', [
    ((1, 1), (1, 1), 'SAME'), ((2, 2), (1, 1), 'SAME'), ((1, 2), (2, 1), 'VALID'),
    ((2, 1), (1, 1), ((2, 0), (1, 1))),
])
def test_conv_matches_per_example_vjp(method, strides, dilation, padding):
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(3, 7, 6, 2)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(3, 2, 2, 4)), jnp.float32)

  def conv(k, x):
    return jax.lax.conv_general_dilated(x, k, strides, padding, rhs_dilation=dilation,
                                        dimension_numbers=('NHWC', 'HWIO', 'NHWC'))

  out = conv(kernel, x)
  g = jnp.asarray(rng.normal(size=out.shape), jnp.float32)
  want = [np.sum(np.asarray(jax.vjp(lambda k: conv(k, x[i:i + 1]), kernel)[1](g[i:i + 1])[0],
                            np.float64) ** 2) for i in range(3)]
  pads = padding if not isinstance(padding, str) else jax.lax.padtype_to_pads(
      x.shape[1:3], [(k - 1) * d + 1 for k, d in zip((3, 2), dilation)], strides, padding)
  got = layer_norms.conv_sq_norms(x, g, (3, 2), strides, pads, dilation, method)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


def test_auto_picks_fewer_flops():
  assert layer_norms.choose_method(1024, 576, 64) == 'materialize'  # ResNet18 stage 1.
  assert layer_norms.choose_method(16, 4608, 512) == 'ghost'  # ResNet18 stage 4.
  with pytest.raises(ValueError, match='valid: auto, ghost, materialize'):
    layer_norms.choose_method(1, 1, 1, 'exact')
