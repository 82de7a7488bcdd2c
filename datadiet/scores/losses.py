"""Per-example losses on logits, the building block every score differentiates or inspects."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from datadiet.scores import checks

# (logits (batch, classes), integer labels (batch,)) -> per-example loss (batch,).
LogitLossFn = Callable[[jax.Array, jax.Array], jax.Array]


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Softmax cross-entropy with integer labels, one value per example (the paper's loss).

  A label outside ``[0, classes)`` raises when called eagerly; under ``jit`` its loss *and its
  gradient* are NaN (optax would quietly clamp it to a real class), so GraNd and training both
  show it rather than use a wrong class.
  """
  valid = checks.valid_labels(labels, logits.shape[-1], None, what='softmax_cross_entropy')
  # At least float32 (bf16 logits lose too much in the log-sum-exp); float64 stays float64.
  logits = logits.astype(jnp.result_type(jnp.float32, logits.dtype))
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  # A factor, not jnp.where(valid, losses, nan): the gradient of an invalid example is NaN too,
  # and a valid one's stays clean (where's unchosen NaN branch would leak NaN into every
  # gradient, as 0 × NaN).
  return losses * jnp.where(valid, 1.0, jnp.nan).astype(losses.dtype)


def label_smoothed_cross_entropy(logits: jax.Array, labels: jax.Array,
                                 smoothing: float) -> jax.Array:
  """Cross-entropy against the smoothed target ``(1 − smoothing)·onehot + smoothing / classes``
  (PyTorch's ``label_smoothing``, airbench's 0.2), one value per example; an invalid label
  gives NaN as in :func:`softmax_cross_entropy`. A training loss only: scores read the plain
  one."""
  classes = logits.shape[-1]
  valid = checks.valid_labels(labels, classes, None, what='label_smoothed_cross_entropy')
  logits = logits.astype(jnp.result_type(jnp.float32, logits.dtype))
  targets = optax.smooth_labels(jax.nn.one_hot(labels, classes, dtype=logits.dtype), smoothing)
  losses = optax.softmax_cross_entropy(logits, targets)
  return losses * jnp.where(valid, 1.0, jnp.nan).astype(losses.dtype)
