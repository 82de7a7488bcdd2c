"""Forgetting events (Toneva et al., ICLR 2019), tracked from inside a training loop.

An example is *forgotten* when it was classified correctly at its previous presentation and
incorrectly at this one. Its forgetting score is the number of such events over training;
an example never classified correctly at any presentation scores ``inf``, as in the authors'
code, so after averaging over seeds an example that *any* seed never learned ranks above every
example all seeds learned. Score files stay finite: :func:`finite_ranking` replaces ``inf`` by
a value that keeps exactly that order (and ranks an example higher the more seeds never
learned it).

Within one batch an id may appear twice (a batch that straddles two epochs of a small kept
set): only its first occurrence in the batch is recorded. Scatters with repeated indices have
no defined order on accelerators, so recording both would make ``last_correct`` depend on the
backend; one presentation per batch keeps the counters the same everywhere.

The tracker is a pytree over all N examples of the training set (dense indices 0..N-1) and the
update is a pure function, so it can live inside a jitted, donated training step.

Example::

  state = forgetting.init(num_examples)
  # in the train step, with this batch's dense indices and mask:
  correct = jnp.argmax(logits, -1) == labels
  state = forgetting.update(state, indices, correct, mask)
  # after training:
  scores = forgetting.scores(state)            # (N,) float32
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from datadiet.scores.registry import Score, register
from datadiet.scores.trackers import Tracker

Array = jax.Array


@flax.struct.dataclass
class ForgettingState:
  """Per-example counters; every field has shape (N,)."""
  last_correct: Array  # bool: correct at the latest presentation.
  ever_correct: Array  # bool: correct at some presentation.
  forgotten: Array  # int32: correct → incorrect transitions so far.
  presentations: Array  # int32: how many times the example was seen.


def init(num_examples: int) -> ForgettingState:
  """A tracker for ``num_examples`` examples that have not been presented yet."""
  return ForgettingState(
      last_correct=jnp.zeros((num_examples,), bool),
      ever_correct=jnp.zeros((num_examples,), bool),
      forgotten=jnp.zeros((num_examples,), jnp.int32),
      presentations=jnp.zeros((num_examples,), jnp.int32),
  )


def update(state: ForgettingState, example_ids: Array, correct: Array,
           mask: Array | None = None) -> ForgettingState:
  """Records one presentation of each example in a batch.

  Args:
    state: the tracker.
    example_ids: int ``(batch,)`` dense indices in ``[0, N)``; an index repeated within the
      batch is recorded at its first occurrence only.
    correct: bool ``(batch,)``: was the example classified correctly now.
    mask: bool ``(batch,)``; False marks padding, which is ignored.

  Returns:
    The updated tracker.
  """
  num_examples = state.forgotten.shape[0]
  if mask is not None:
    # Out-of-range indices are dropped by the scatters below.
    example_ids = jnp.where(mask, example_ids, num_examples)
  # Later occurrences of an index already in the batch are dropped too (see the module doc): a
  # stable sort puts each index's first occurrence first among its equals (O(B log B) memory-light,
  # not a B × B comparison).
  order = jnp.argsort(example_ids, stable=True)
  ordered = example_ids[order]
  repeat = jnp.concatenate([jnp.zeros((1,), bool), ordered[1:] == ordered[:-1]])
  seen_before = jnp.zeros_like(repeat).at[order].set(repeat)
  example_ids = jnp.where(seen_before, num_examples, example_ids)
  correct = correct.astype(bool)
  was_correct = state.last_correct.at[example_ids].get(mode='fill', fill_value=False)
  forgotten_now = (was_correct & ~correct).astype(jnp.int32)
  return ForgettingState(
      last_correct=state.last_correct.at[example_ids].set(correct, mode='drop'),
      ever_correct=state.ever_correct.at[example_ids].max(correct, mode='drop'),
      forgotten=state.forgotten.at[example_ids].add(forgotten_now, mode='drop'),
      presentations=state.presentations.at[example_ids].add(1, mode='drop'),
  )


def scores(state: ForgettingState) -> Array:
  """Forgetting counts; ``inf`` for an example never classified correctly (the authors'
  convention)."""
  return jnp.where(state.ever_correct, state.forgotten.astype(jnp.float32), jnp.inf)


def finite_ranking(per_seed: np.ndarray) -> np.ndarray:
  """``(K, N)`` per-seed scores with ``inf`` for never learned → finite ones whose seed mean
  ranks as the authors' ``inf``-mean does: ``inf`` becomes ``K · (m + 1)``, ``m`` the largest
  finite score, so an example any seed never learned averages at least ``m + 1``, above every
  example all seeds learned (at most ``m``), and more such seeds rank it higher."""
  per_seed = np.asarray(per_seed, np.float32)
  finite = np.isfinite(per_seed)
  if np.isnan(per_seed).any() or (per_seed < 0).any():
    raise ValueError('Forgetting counts must be >= 0 or +inf.')
  largest = float(per_seed[finite].max()) if finite.any() else 0.0
  return np.where(finite, per_seed, len(per_seed) * (largest + 1.0)).astype(np.float32)


def _correct(logits: Array, labels: Array) -> Array:
  return jnp.argmax(logits, -1) == labels


TRACKER = Tracker('forgetting', init, _correct, update)
register(Score('forgetting', 'tracker', scores,
               'forgetting events over training (Toneva et al. 2019)', TRACKER,
               finalize=finite_ranking))
