"""Scores averaged over K independently trained models (seeds) without a Python loop.

A seed ensemble is one pytree whose leaves carry a leading seed axis of size K, as the training
engine stores it. :func:`over_seeds` maps any single-model score function over that axis.

Example::

  def el2n_of(variables, images, labels, mask):
    return el2n(model.apply(variables, images, train=False), labels, mask)

  per_seed, mean = over_seeds(el2n_of, stacked_variables, images, labels, mask)
  # per_seed: (K, batch), mean: (batch,)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp

SEED_STRATEGIES = ('map', 'vmap')


def stack_seeds(members: Sequence[Any]) -> Any:
  """Stacks K same-structured pytrees into one with a leading seed axis."""
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)


def num_seeds(stacked: Any) -> int:
  """The size of the leading seed axis (checked to agree across leaves)."""
  sizes = {leaf.shape[0] for leaf in jax.tree.leaves(stacked)}
  if len(sizes) != 1:
    raise ValueError(f'Leaves disagree on the seed axis size: {sorted(sizes)}.')
  return sizes.pop()


def over_seeds(score_fn: Callable[..., jax.Array], stacked: Any, *args: Any,
               strategy: Literal['map', 'vmap'] = 'map') -> tuple[jax.Array, jax.Array]:
  """Applies ``score_fn(member, *args)`` to each of K stacked members; returns per-seed and mean.

  Args:
    score_fn: ``(one model's pytree, *args) -> (batch,)`` scores.
    stacked: the K models' pytree, leading axis = seed.
    *args: shared arguments (the batch), broadcast to every seed.
    strategy: 'map' runs seeds one after another inside the same compiled program
      (``lax.map``): convolutions stay ordinary convolutions. 'vmap' batches the seeds, which
      suits MLPs but turns convolutions into slow grouped convolutions on CPU and GPU.

  Returns:
    ``(per_seed, mean)`` with shapes ``(K, batch)`` and ``(batch,)``.
  """
  if strategy not in SEED_STRATEGIES:
    raise ValueError(f'Unknown seed strategy {strategy!r}; valid: {", ".join(SEED_STRATEGIES)}.')
  num_seeds(stacked)
  if strategy == 'vmap':
    per_seed = jax.vmap(lambda member: score_fn(member, *args))(stacked)
  else:
    per_seed = jax.lax.map(lambda member: score_fn(member, *args), stacked)
  return per_seed, jnp.mean(per_seed, axis=0)
