"""Per-example losses on logits, the building block every score differentiates or inspects."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

# (logits (batch, classes), integer labels (batch,)) -> per-example loss (batch,).
LogitLossFn = Callable[[jax.Array, jax.Array], jax.Array]


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Softmax cross-entropy with integer labels, one value per example (the paper's loss)."""
  # At least float32 (bf16 logits lose too much in the log-sum-exp); float64 stays float64.
  logits = logits.astype(jnp.result_type(jnp.float32, logits.dtype))
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels)
