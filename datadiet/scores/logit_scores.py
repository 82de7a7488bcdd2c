"""Scores computed from one forward pass: EL2N, the official code's L1 error and probability
margin, and the loss, margin and entropy baselines.

Every function maps logits ``(batch, classes)`` (and integer labels ``(batch,)``) to one float32
value per example, oriented so that **higher means harder**, and returns 0 where ``mask`` is
False (padding). All are pure and jit-able. Wrong shapes and dtypes raise
:class:`datadiet.errors.InputError`; so does a label outside ``[0, classes)`` when called
eagerly, while under ``jit`` that example's score is NaN (:mod:`datadiet.scores.checks`).

Example::

  logits = model.apply(variables, images, train=False)
  scores = el2n(logits, labels, mask)          # (batch,)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from datadiet import errors
from datadiet.scores import checks
from datadiet.scores.losses import softmax_cross_entropy
from datadiet.scores.registry import Score, register

Array = jax.Array


def _checked(what: str, logits: Array, labels: Array | None, mask: Array | None) -> Array | None:
  """Checks the arguments; returns where labels are valid (None for label-free scores)."""
  if jnp.ndim(logits) != 2:
    raise errors.InputError(
        f'{what}: logits must have shape (batch, classes), got {jnp.shape(logits)}.')
  checks.check_batch(logits.shape[0], labels, mask, what=what)
  return None if labels is None else checks.valid_labels(labels, logits.shape[1], mask,
                                                         what=what)


def _masked(values: Array, mask: Array | None, valid: Array | None = None) -> Array:
  values = values.astype(jnp.float32)
  if valid is not None:
    values = jnp.where(valid, values, jnp.nan)  # Reached under jit only: never a plausible score.
  return values if mask is None else jnp.where(mask, values, 0.0)


def el2n(logits: Array, labels: Array, mask: Array | None = None) -> Array:
  """EL2N: ``‖softmax(logits) − onehot(label)‖₂`` per example (Paul et al., 2021)."""
  valid = _checked('el2n', logits, labels, mask)
  probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
  error = probs - jax.nn.one_hot(labels, logits.shape[-1], dtype=jnp.float32)
  return _masked(jnp.linalg.norm(error, axis=-1), mask, valid)


register(Score('el2n', 'logits', el2n, 'EL2N: ‖softmax(f(x)) − onehot(y)‖₂ (Paul et al. 2021)'))


def l1_error(logits: Array, labels: Array, mask: Array | None = None) -> Array:
  """``‖softmax(logits) − onehot(label)‖₁`` per example: the L1 counterpart of EL2N that the
  authors' code also computes. It equals ``2 (1 − p_y)``, so it ranks as the loss does."""
  valid = _checked('l1_error', logits, labels, mask)
  probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
  error = probs - jax.nn.one_hot(labels, logits.shape[-1], dtype=jnp.float32)
  return _masked(jnp.sum(jnp.abs(error), axis=-1), mask, valid)


register(Score('l1_error', 'logits', l1_error, '‖softmax(f(x)) − onehot(y)‖₁ (the authors\' code)'))


def prob_margin(logits: Array, labels: Array, mask: Array | None = None) -> Array:
  """Negated probability margin ``max_{k≠y} p_k − p_y`` (the authors' code's margin score, on
  probabilities): in [−1, 1], positive when misclassified, higher is harder."""
  valid = _checked('prob_margin', logits, labels, mask)
  probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
  label_prob = jnp.take_along_axis(probs, labels[:, None], axis=-1)[:, 0]
  others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, probs)
  return _masked(jnp.max(others, axis=-1) - label_prob, mask, valid)


register(Score('prob_margin', 'logits', prob_margin,
               'negated probability margin: max_{k≠y} p_k − p_y (the authors\' code)'))


def loss(logits: Array, labels: Array, mask: Array | None = None) -> Array:
  """Softmax cross-entropy of the labelled class."""
  valid = _checked('loss', logits, labels, mask)
  # Invalid labels are already flagged (NaN below); the loss itself gets class 0 in their place.
  losses = softmax_cross_entropy(logits, jnp.where(valid, labels, 0))
  return _masked(losses, mask, valid)


register(Score('loss', 'logits', loss, 'cross-entropy of the labelled class'))


def margin(logits: Array, labels: Array, mask: Array | None = None) -> Array:
  """Negated logit margin ``max_{k≠y} z_k − z_y``: positive when misclassified.

  The margin ``z_y − max_{k≠y} z_k`` (as in AUM, Pleiss et al. 2020) is large for easy
  examples; it is negated so that, like every score here, higher means harder.
  """
  valid = _checked('margin', logits, labels, mask)
  logits = logits.astype(jnp.float32)
  label_logit = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
  others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
  return _masked(jnp.max(others, axis=-1) - label_logit, mask, valid)


register(Score('margin', 'logits', margin,
               'negated logit margin: largest other logit minus the labelled one'))


def entropy(logits: Array, labels: Array | None = None, mask: Array | None = None) -> Array:
  """Predictive entropy ``−Σ_k p_k log p_k`` (label-free; ``labels`` is accepted and ignored)."""
  _checked('entropy', logits, None, mask)
  del labels
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return _masked(-jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1), mask)


register(Score('entropy', 'logits', entropy, 'predictive entropy (label-free)'))
