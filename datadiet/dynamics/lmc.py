"""Linear mode connectivity: networks on the straight line between two trained children, their
BatchNorm statistics recomputed, and the error barrier along it.

The paper's barrier on a set of examples S (R_S = error on S), for children w and w′ spawned
from one parent at step t* and trained with independent data orders:

  barrier = max over α of  R_S(α w + (1 − α) w′) − (α R_S(w) + (1 − α) R_S(w′)),

with α = ½ as a cheap proxy. Frankle et al. (2020, "Linear mode connectivity and the lottery
ticket hypothesis") measure the rise above the *mean* of the endpoint errors instead,
``max_α R_S(α) − (R_S(w) + R_S(w′)) / 2`` (:func:`barrier_above_endpoint_mean`); the two agree
when the endpoints' errors are equal. An interpolated network's BatchNorm running statistics
are not the interpolation of its parents' (the activations' mean and variance are not linear in
the weights), so they are recomputed from training data before it is evaluated — with stale
statistics the barrier is inflated. The recomputation follows SWA's ``update_bn``: forward passes
in training mode over batches of training data, each BatchNorm layer's statistics set to the
equal-weight average of the batches' means and variances.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def interpolate(params: Any, other: Any, alpha: float) -> Any:
  """``alpha · params + (1 − alpha) · other``, leaf by leaf."""
  return jax.tree.map(lambda a, b: alpha * a + (1.0 - alpha) * b, params, other)


def batch_statistics(model: nn.Module, params: Any, batch_stats: Any, images: jax.Array,
                     constants: Any = None) -> Any:
  """Every BatchNorm layer's mean and variance over ``images`` (one batch, training mode), the
  model's ``constants`` (airbench's whitening) held as they are.

  Flax updates running statistics as ``m · old + (1 − m) · batch``; running the batch from
  all-zero and from all-one statistics gives ``(1 − m) · batch`` and ``m + (1 − m) · batch``,
  hence ``m`` and the batch statistics exactly, whatever momentum each layer uses.
  """

  def updated(start):
    variables = {'params': params, 'batch_stats': start, 'constants': constants or {}}
    _, state = model.apply(variables, images, train=True, mutable=['batch_stats'])
    return state['batch_stats']

  from_zeros = updated(jax.tree.map(jnp.zeros_like, batch_stats))
  from_ones = updated(jax.tree.map(jnp.ones_like, batch_stats))
  return jax.tree.map(lambda z, o: z / (1.0 - (o - z)), from_zeros, from_ones)


# Compiled once per model (Flax modules hash by their fields), not once per call: the error
# barrier recomputes statistics for every α of every pair of networks.
_batch_statistics_jit = jax.jit(batch_statistics, static_argnums=0)


def recompute_batch_stats(model: nn.Module, params: Any, batch_stats: Any,
                          image_batches: Iterable[np.ndarray], constants: Any = None) -> Any:
  """BatchNorm statistics for ``params``: the average of :func:`batch_statistics` over the
  batches (pass equal-sized batches of training data)."""
  total, count = None, 0
  for images in image_batches:
    stats = _batch_statistics_jit(model, params, batch_stats, images, constants)
    total = stats if total is None else jax.tree.map(jnp.add, total, stats)
    count += 1
  if count == 0:
    raise ValueError('recompute_batch_stats needs at least one batch of images.')
  return jax.tree.map(lambda x: x / count, total)


def error_barrier(alphas: Sequence[float], errors: Sequence[float]) -> float:
  """``max_α err(α) − (α err(1) + (1 − α) err(0))`` from errors measured on a grid of α that
  includes 0 (the network ``other``) and 1 (``params``)."""
  alphas, errors = np.asarray(alphas, np.float64), np.asarray(errors, np.float64)
  at = {float(a): e for a, e in zip(alphas, errors)}
  if 0.0 not in at or 1.0 not in at:
    raise ValueError(f'The α grid must include 0 and 1 (the two networks), got {alphas}.')
  return float(np.max(errors - (alphas * at[1.0] + (1.0 - alphas) * at[0.0])))


def barrier_above_endpoint_mean(alphas: Sequence[float], errors: Sequence[float]) -> float:
  """Frankle et al. (2020): ``max_α err(α) − (err(0) + err(1)) / 2`` on a grid of α that
  includes 0 and 1."""
  alphas, errors = np.asarray(alphas, np.float64), np.asarray(errors, np.float64)
  at = {float(a): e for a, e in zip(alphas, errors)}
  if 0.0 not in at or 1.0 not in at:
    raise ValueError(f'The α grid must include 0 and 1 (the two networks), got {alphas}.')
  return float(np.max(errors) - (at[0.0] + at[1.0]) / 2)
