"""airbench's network: the whitening fitted to data, the identity-initialised convolutions, its
size, and GraNd's fast path on it against per-example ``jax.grad``."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from datadiet import errors, models
from datadiet.models import airbench
from datadiet.scores import grand_linen


def _correlated_images(count=12, size=10, seed=0):
  """Images whose neighbouring pixels and channels correlate, as natural images' do."""
  rng = np.random.default_rng(seed)
  base = rng.normal(size=(count, size + 1, size + 1, 1))
  smooth = base[:, 1:, 1:] + base[:, :-1, :-1] + 0.3 * rng.normal(size=(count, size, size, 3))
  return (smooth * np.array([1.0, 2.0, 0.5]) + 0.3).astype(np.float32)


def _patch_matrix(images, size=2):
  """Every size×size patch as a row, by a plain loop, in (h, w, c) order."""
  rows = []
  for image in images:
    for i in range(image.shape[0] - size + 1):
      for j in range(image.shape[1] - size + 1):
        rows.append(image[i:i + size, j:j + size].reshape(-1))
  return np.array(rows, np.float64)


def test_whitening_kernel_whitens_patches():
  images = _correlated_images()
  patches = _patch_matrix(images)
  kernel = airbench.whitening_kernel(images, eps=1e-6)
  assert kernel.shape == (2, 2, 3, 24) and kernel.dtype == np.float32
  filters = kernel.reshape(12, 24).astype(np.float64)
  np.testing.assert_array_equal(filters[:, 12:], -filters[:, :12])  # Then their negatives.
  whitened = patches @ filters[:, :12]
  np.testing.assert_allclose(whitened.T @ whitened / len(patches), np.eye(12), atol=2e-3)
  # Against NumPy's own eigendecomposition of the same second-moment matrix: each filter is an
  # eigenvector (up to sign) scaled by 1/sqrt(λ + ε), by decreasing eigenvalue.
  eigenvalues, eigenvectors = np.linalg.eigh(patches.T @ patches / len(patches))
  expected = eigenvectors[:, ::-1] / np.sqrt(eigenvalues[::-1] + 1e-6)
  signs = np.sign(np.sum(filters[:, :12] * expected, axis=0))
  np.testing.assert_allclose(filters[:, :12], expected * signs, rtol=2e-3, atol=1e-3)


def test_init_fits_the_kernel_to_its_batch_as_numpy_does():
  images = _correlated_images()
  model = models.get_model('airbench', num_classes=3, widths=(4, 8, 8))
  traced = jax.jit(lambda x: model.init(jax.random.key(0), x, train=False))(images)
  from_init = np.asarray(traced['constants']['whiten']['kernel']).reshape(12, 24)
  fitted = model.fit_constants(images)['whiten']['kernel'].reshape(12, 24)
  signs = np.sign(np.sum(from_init * fitted, axis=0))  # Eigenvector signs are arbitrary.
  np.testing.assert_allclose(from_init, fitted * signs, rtol=1e-3, atol=1e-3)
  assert 'kernel' not in traced['params']['whiten']  # Fitted, never trained.


def test_convolutions_start_as_the_identity_on_their_first_channels():
  kernel = np.asarray(airbench.identity_then_torch_init(jax.random.key(1), (3, 3, 4, 6)))
  for out in range(6):
    if out < 4:
      expected = np.zeros((3, 3, 4))
      expected[1, 1, out] = 1.0
      np.testing.assert_array_equal(kernel[..., out], expected)
    else:  # PyTorch's default: uniform within ±1/sqrt(fan_in).
      assert 0 < np.abs(kernel[..., out]).max() <= 1 / np.sqrt(36)


def test_default_widths_are_airbench94s_size():
  model = models.get_model('airbench', num_classes=10)
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)),
                                                train=False))
  # Convolutions 24·64·9 + 64·64·9 + 64·256·9 + 3·256·256·9, BatchNorm biases 2·64 + 4·256,
  # head 256·10, whitening bias 24 (its kernel is not a parameter).
  expected = (24 * 64 + 64 * 64 + 64 * 256 + 3 * 256 * 256) * 9 + 2 * 64 + 4 * 256 + 2560 + 24
  assert sum(leaf.size for leaf in jax.tree.leaves(variables['params'])) == expected == 1_971_352


def test_grand_fast_path_matches_per_example_grad():
  images = _correlated_images(count=6, size=12)
  labels = np.array([0, 1, 2, 1, 0, 2])
  model = models.get_model('airbench', num_classes=3, widths=(4, 8, 8))
  variables = model.init(jax.random.key(0), images[:2], train=False)
  variables = {**variables, 'constants': model.fit_constants(images)}
  # Move the BatchNorm statistics off their initial values.
  _, updates = model.apply(variables, images, train=True, mutable=['batch_stats'])
  variables = {**variables, **updates}

  def example_loss(params, x, y):
    logits = model.apply({**variables, 'params': params}, x[None], train=False)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y[None])[0]

  example_norm = jax.jit(lambda p, x, y: optax.tree_utils.tree_norm(jax.grad(example_loss)(
      p, x, y)))
  expected = [float(example_norm(variables['params'], images[i], labels[i]))
              for i in range(len(labels))]
  fast = jax.jit(lambda v, x, y: grand_linen(model, v, x, y, apply_kwargs={'train': False}))(
      variables, images, labels)
  np.testing.assert_allclose(fast, expected, rtol=1e-5)


def test_images_too_small_and_bad_widths_are_refused():
  model = models.get_model('airbench', num_classes=3, widths=(4, 8, 8))
  with pytest.raises(errors.InputError, match='at least 9×9 pixels'):
    model.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)), train=False)
  with pytest.raises(errors.InputError, match='three positive group widths'):
    models.get_model('airbench', num_classes=3, widths=(4, 8))
