"""The training losses against their formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet.scores.losses import label_smoothed_cross_entropy, softmax_cross_entropy


def test_label_smoothed_cross_entropy_is_its_formula():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(5, 4)).astype(np.float32)
  labels = np.array([0, 3, 1, 1, 2])
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  # Target (1 − α)·onehot + α/K: (1 − α)·CE + α·mean over classes of −log p.
  expected = 0.8 * -log_p[np.arange(5), labels] + 0.2 * -log_p.mean(-1)
  np.testing.assert_allclose(label_smoothed_cross_entropy(logits, labels, 0.2), expected,
                             rtol=1e-5)
  np.testing.assert_allclose(jax.jit(label_smoothed_cross_entropy, static_argnums=2)(
      logits, labels, 0.0), softmax_cross_entropy(logits, labels), rtol=1e-6)


def test_an_invalid_label_is_nan_under_jit():
  losses = jax.jit(lambda l: label_smoothed_cross_entropy(l, jnp.array([0, 7]), 0.2))(
      jnp.zeros((2, 3)))
  assert np.isfinite(losses[0]) and np.isnan(losses[1])
  with pytest.raises(ValueError, match='7'):
    label_smoothed_cross_entropy(np.zeros((2, 3)), np.array([0, 7]), 0.2)
