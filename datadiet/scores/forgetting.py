"""Forgetting events (Toneva et al., ICLR 2019), tracked from inside a training loop.

An example is *forgotten* when it was classified correctly at its previous presentation and
incorrectly at this one. Its forgetting score is the number of such events over training;
examples never classified correctly at any presentation get the largest possible score, so they
rank above every example that was learned.

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
    example_ids: int ``(batch,)`` dense indices in ``[0, N)``, distinct within the batch.
    correct: bool ``(batch,)``: was the example classified correctly now.
    mask: bool ``(batch,)``; False marks padding, which is ignored.

  Returns:
    The updated tracker.
  """
  num_examples = state.forgotten.shape[0]
  if mask is not None:
    # Out-of-range indices are dropped by the scatters below.
    example_ids = jnp.where(mask, example_ids, num_examples)
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
  """Forgetting counts; never-learned examples get ``max(presentations)``.

  ``max(presentations)`` exceeds every learned example's count, since the first presentation
  can never be a forgetting event.
  """
  never_learned_value = jnp.max(state.presentations)
  return jnp.where(state.ever_correct, state.forgotten, never_learned_value).astype(jnp.float32)


def _correct(logits: Array, labels: Array) -> Array:
  return jnp.argmax(logits, -1) == labels


TRACKER = Tracker('forgetting', init, _correct, update)
