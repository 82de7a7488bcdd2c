"""Scores computed from one forward pass: EL2N and the loss, margin and entropy baselines.

Every function maps logits ``(batch, classes)`` (and integer labels ``(batch,)``) to one float32
value per example, oriented so that **higher means harder**, and returns 0 where ``mask`` is
False (padding). All are pure and jit-able.

Example::

  logits = model.apply(variables, images, train=False)
  scores = el2n(logits, labels, mask)          # (batch,)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from datadiet.scores.losses import softmax_cross_entropy

Array = jax.Array


def _masked(values: Array, mask: Array | None) -> Array:
  values = values.astype(jnp.float32)
  return values if mask is None else jnp.where(mask, values, 0.0)


def el2n(logits: Array, labels: Array, mask: Array | None = None) -> Array:
  """EL2N: ``‖softmax(logits) − onehot(label)‖₂`` per example (Paul et al., 2021)."""
  probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
  error = probs - jax.nn.one_hot(labels, logits.shape[-1], dtype=jnp.float32)
  return _masked(jnp.linalg.norm(error, axis=-1), mask)


def loss(logits: Array, labels: Array, mask: Array | None = None) -> Array:
  """Softmax cross-entropy of the labelled class."""
  return _masked(softmax_cross_entropy(logits, labels), mask)


def margin(logits: Array, labels: Array, mask: Array | None = None) -> Array:
  """Negated logit margin ``max_{k≠y} z_k − z_y``: positive when misclassified.

  The margin ``z_y − max_{k≠y} z_k`` (as in AUM, Pleiss et al. 2020) is large for easy
  examples; it is negated so that, like every score here, higher means harder.
  """
  logits = logits.astype(jnp.float32)
  label_logit = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
  others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
  return _masked(jnp.max(others, axis=-1) - label_logit, mask)


def entropy(logits: Array, labels: Array | None = None, mask: Array | None = None) -> Array:
  """Predictive entropy ``−Σ_k p_k log p_k`` (label-free; ``labels`` is accepted and ignored)."""
  del labels
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return _masked(-jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1), mask)
