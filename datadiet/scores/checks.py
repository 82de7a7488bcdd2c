"""Argument checks for the score functions: a wrong shape, dtype or label is one clear error.

Shapes and dtypes are static, so these raise when a function is traced under ``jit`` as well
as when it is called eagerly. Label *values* are only known outside a trace: there an
out-of-range label raises; inside ``jit`` the score functions return NaN for that example
instead (never a plausible-looking number), and every consumer of scores refuses NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from datadiet import errors


def check_batch(batch_size: int, labels, mask, *, what: str, class_labels: bool = True) -> None:
  """``labels`` (if given) must be integer ``(batch,)`` (with ``class_labels=False``, for a loss
  of the caller's own, any array with a leading batch axis) and ``mask`` ``(batch,)``."""
  if labels is not None and not class_labels:
    if jnp.ndim(labels) < 1 or jnp.shape(labels)[0] != batch_size:
      raise errors.InputError(
          f'{what}: labels must have a leading axis of {batch_size}, one per example of the '
          f'batch, got shape {jnp.shape(labels)}.')
  elif labels is not None:
    if jnp.shape(labels) != (batch_size,):
      one_hot = jnp.ndim(labels) == 2 and jnp.shape(labels)[0] == batch_size
      raise errors.InputError(
          f'{what}: labels must have shape ({batch_size},), one integer class per example, '
          f'got {jnp.shape(labels)}'
          + ('; pass class indices, not one-hot vectors.' if one_hot else
             f'; give one label per example of the batch of {batch_size}.'))
    if not jnp.issubdtype(jnp.result_type(labels), jnp.integer):
      raise errors.InputError(
          f'{what}: labels must be integer class indices, got dtype {jnp.result_type(labels)}.')
  if mask is not None and jnp.shape(mask) != (batch_size,):
    raise errors.InputError(
        f'{what}: mask must have shape ({batch_size},), one flag per example of the batch, '
        f'got {jnp.shape(mask)}.')
  if mask is not None and jnp.result_type(mask) != jnp.bool_:
    raise errors.InputError(
        f'{what}: mask must be boolean (True for a real example, False for padding), got dtype '
        f'{jnp.result_type(mask)}; pass mask.astype(bool) if 0/1 is meant.')


def valid_labels(labels, num_classes: int, mask, *, what: str) -> jax.Array:
  """Where ``0 <= labels < num_classes``. Raises for a concrete out-of-range label (padding,
  where ``mask`` is False, is exempt); under ``jit`` returns the flags for the caller to turn
  invalid examples' scores into NaN."""
  valid = (labels >= 0) & (labels < num_classes)
  # Concrete only outside every trace: labels closed over by a jitted function are a concrete
  # array, but what is computed from them inside the trace is not.
  if not any(isinstance(x, jax.core.Tracer) for x in (valid, labels, mask)):
    bad = ~np.asarray(valid)
    if mask is not None:
      bad &= np.asarray(mask, bool)
    if bad.any():
      position = int(np.flatnonzero(bad)[0])
      raise errors.InputError(
          f'{what}: {int(bad.sum())} labels outside [0, {num_classes}) (the first, '
          f'{int(np.asarray(labels)[position])}, at position {position}); labels must be class '
          f'indices for the {num_classes} logits.')
  return valid


def zero_padding_labels(labels, mask):
  """``labels`` with padding's (``mask`` False) set to 0, so a loss never reads a placeholder
  such as -1 that a caller put there (scores of padding are zeroed afterwards anyway)."""
  if mask is None:
    return labels
  mask = jnp.reshape(mask, jnp.shape(mask) + (1,) * (jnp.ndim(labels) - 1))
  return jnp.where(mask, labels, jnp.zeros_like(labels))
