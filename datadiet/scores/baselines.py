"""Scores that need no model: random and input norm.

Example::

  scores = random_score(jax.random.key(0), example_ids)   # same value for an id in any batch
  scores = input_norm(images, mask)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from datadiet.scores import checks
from datadiet.scores.registry import Score, register

Array = jax.Array


def random_score(key: Array, example_ids: Array, mask: Array | None = None) -> Array:
  """Uniform [0, 1) scores derived from ``(key, example id)``.

  Keyed by id, not position: an example gets the same score in any batch, order or padding.
  Integer ids only (map string ids such as file names to their index first).
  """
  checks.check_batch(jnp.shape(example_ids)[0], None, mask, what='random_score')
  scores = jax.vmap(lambda i: jax.random.uniform(jax.random.fold_in(key, i)))(example_ids)
  return scores if mask is None else jnp.where(mask, scores, 0.0)


def input_norm(inputs: Array, mask: Array | None = None) -> Array:
  """``‖x‖₂`` over all non-batch axes (Kirsch 2023: GraNd at initialisation tracks it)."""
  checks.check_batch(inputs.shape[0], None, mask, what='input_norm')
  x = inputs.astype(jnp.float32).reshape(inputs.shape[0], -1)
  norms = jnp.linalg.norm(x, axis=-1)
  return norms if mask is None else jnp.where(mask, norms, 0.0)


register(Score('input_norm', 'inputs', input_norm, '‖x‖₂ of the normalised input'))
register(Score('random', 'ids', random_score, 'uniform, keyed by example id'))
