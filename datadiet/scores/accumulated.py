"""Scores accumulated over training: summed EL2N and loss, and dynamic uncertainty.

The later literature scores an example by how the training run saw it so far rather than by one
checkpoint: the EL2N or the loss *summed* over the presentations of the first epochs (the
accumulated variant that coverage-centric pruning reports, Zheng et al. 2023), and the
*variance* over presentations of the probability the network gives the example's label (a
simplified dynamic uncertainty: He et al. 2023 average the standard deviation over sliding
windows of J epochs; this is the variance over all presentations so far, which ranks
differently). Each is a training-time tracker (:mod:`datadiet.scores.trackers`)
of per-example sums over presentations, with the training step's own logits (training mode,
augmented inputs). They are read from the tracker as a scoring step's checkpoint saved it, so a
score at step ``t`` accumulates the first ``t`` steps (step 0: nothing seen, 0 for every
example). Higher means harder for all three.

Example::

  state = EL2N_SUM.init(num_examples)
  state = EL2N_SUM.update(state, indices, EL2N_SUM.observe(logits, labels))  # training step
  summed = total(state)                                   # (N,) float32
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from datadiet.scores import logit_scores
from datadiet.scores.registry import Score, register
from datadiet.scores.trackers import Tracker

Array = jax.Array


@flax.struct.dataclass
class SumState:
  """Per-example sums over presentations; every field has shape (N,)."""
  total: Array  # float32: Σ value.
  total_squares: Array  # float32: Σ value².
  presentations: Array  # int32: how many times the example was seen.


def init(num_examples: int) -> SumState:
  zeros = jnp.zeros((num_examples,), jnp.float32)
  return SumState(total=zeros, total_squares=zeros,
                  presentations=jnp.zeros((num_examples,), jnp.int32))


def update(state: SumState, example_ids: Array, values: Array) -> SumState:
  """Adds one presentation per row; an id twice in a batch counts twice (scatter-add)."""
  values = values.astype(jnp.float32)
  return SumState(total=state.total.at[example_ids].add(values),
                  total_squares=state.total_squares.at[example_ids].add(values * values),
                  presentations=state.presentations.at[example_ids].add(1))


def label_probability(logits: Array, labels: Array) -> Array:
  """``softmax(logits)[label]`` per example, ``(batch,)`` float32."""
  probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
  return jnp.take_along_axis(probs, labels[:, None], axis=-1)[:, 0]


def total(state: SumState) -> Array:
  """The sum over the presentations so far."""
  return state.total


def variance(state: SumState) -> Array:
  """The variance over the presentations so far (0 for an example seen at most once)."""
  count = jnp.maximum(state.presentations, 1).astype(jnp.float32)
  mean = state.total / count
  return jnp.maximum(state.total_squares / count - mean * mean, 0.0)


EL2N_SUM = Tracker('el2n_sum', init, logit_scores.el2n, update)
LOSS_SUM = Tracker('loss_sum', init, logit_scores.loss, update)
LABEL_PROBABILITY = Tracker('label_probability', init, label_probability, update)


register(Score('el2n_sum', 'tracker', total, 'EL2N summed over the presentations up to the '
               'scoring step (accumulated, Zheng et al. 2023)', EL2N_SUM, at_score_steps=True))
register(Score('loss_sum', 'tracker', total, 'loss summed over the presentations up to the '
               'scoring step', LOSS_SUM, at_score_steps=True))
register(Score('dynamic_uncertainty', 'tracker', variance, 'variance of the label\'s predicted '
               'probability over all presentations (a simplified form of He et al. 2023, who '
               'average the standard deviation over sliding windows of epochs)',
               LABEL_PROBABILITY, at_score_steps=True))
