"""The seed axis: K models as one pytree whose leaves carry a leading axis of size K.

:func:`map_over_seeds` is the one way a function of one model is mapped over that axis, in
training, evaluation and scoring alike, with a strategy that decides how the compiled program
runs the seeds:

* ``'vmap'`` batches them: one batched matmul per layer, the fastest for MLPs, but convolutions
  become grouped convolutions, slow on CPU and GPU;
* ``'unroll'`` traces one copy per seed: ordinary convolutions, the fastest for CNNs in training;
* ``'map'`` runs them one after another (``lax.map``): ordinary convolutions and one copy of the
  program, as fast as unrolling for scoring on CPU.

:func:`over_seeds` is the scoring form: a score of one model, shared batch arguments, the
per-seed scores and their mean.

Example::

  per_seed, mean = over_seeds(
      lambda v, x, y, m: el2n(model.apply(v, x, train=False), y, m),
      stacked_variables, images, labels, mask)          # (K, batch), (batch,)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp

from datadiet import errors

STRATEGIES = ('vmap', 'unroll', 'map')
Strategy = Literal['vmap', 'unroll', 'map']


def stack_seeds(members: Sequence[Any]) -> Any:
  """Stacks K same-structured pytrees into one with a leading seed axis."""
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)


def num_seeds(stacked: Any) -> int:
  """The size of the leading seed axis (checked to agree across leaves)."""
  sizes = {leaf.shape[0] for leaf in jax.tree.leaves(stacked)}
  if len(sizes) != 1:
    raise ValueError(f'Leaves disagree on the seed axis size: {sorted(sizes)}.')
  return sizes.pop()


def map_over_seeds(fn: Callable, strategy: Strategy) -> Callable:
  """``fn`` of one seed's arguments mapped over the leading seed axis of every argument."""
  if strategy == 'vmap':
    return jax.vmap(fn)
  if strategy == 'map':
    return lambda *args: jax.lax.map(lambda a: fn(*a), args)
  if strategy == 'unroll':
    def unrolled(*args):
      outs = [fn(*jax.tree.map(lambda a, i=i: a[i], args)) for i in range(num_seeds(args))]
      return jax.tree.map(lambda *leaves: jnp.stack(leaves), *outs)
    return unrolled
  raise errors.InputError(f'Unknown seed strategy {strategy!r}; valid: {", ".join(STRATEGIES)}.')


def over_seeds(score_fn: Callable[..., jax.Array], stacked: Any, *args: Any,
               strategy: Strategy = 'map') -> tuple[jax.Array, jax.Array]:
  """Applies ``score_fn(member, *args)`` to each of K stacked members; returns per-seed and mean.

  Args:
    score_fn: ``(one model's pytree, *args) -> (batch,)`` scores.
    stacked: the K models' pytree, leading axis = seed.
    *args: shared arguments (the batch), broadcast to every seed.
    strategy: how the seeds run (see the module docstring).

  Returns:
    ``(per_seed, mean)`` with shapes ``(K, batch)`` and ``(batch,)``.
  """
  num_seeds(stacked)
  per_seed = map_over_seeds(lambda member: score_fn(member, *args), strategy)(stacked)
  return per_seed, jnp.mean(per_seed, axis=0)
