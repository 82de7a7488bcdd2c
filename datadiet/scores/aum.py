"""AUM, the area under the margin (Pleiss et al., NeurIPS 2020), accumulated during training.

At every presentation of an example the training step's logits give its *margin*, the assigned
label's logit minus the largest other logit; AUM is the mean margin over the presentations, low
(negative) for mislabelled and hard examples. As every score here is oriented so that higher
means harder, the registered score is −AUM: the mean of :func:`datadiet.scores.margin` (the
negated margin). The logits are the training step's own (training mode, augmented inputs), as
in the paper. An example never presented scores 0.

Example::

  state = aum.init(num_examples)
  state = aum.update(state, indices, aum.observe(logits, labels))   # in the training step
  scores = aum.scores(state)                                         # (N,) float32, −AUM
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from datadiet.scores.logit_scores import margin
from datadiet.scores.registry import Score, register
from datadiet.scores.trackers import Tracker

Array = jax.Array


@flax.struct.dataclass
class AUMState:
  """Per-example sums; both fields have shape (N,)."""
  negated_margin_sum: Array  # float32: Σ (largest other logit − assigned logit).
  presentations: Array  # int32: how many times the example was seen.


def init(num_examples: int) -> AUMState:
  return AUMState(negated_margin_sum=jnp.zeros((num_examples,), jnp.float32),
                  presentations=jnp.zeros((num_examples,), jnp.int32))


def observe(logits: Array, labels: Array) -> Array:
  """The negated margin of each example of a training batch, ``(batch,)`` float32."""
  return margin(logits, labels)


def update(state: AUMState, example_ids: Array, negated_margins: Array) -> AUMState:
  """Adds one presentation per row; an id twice in a batch counts twice (scatter-add)."""
  return AUMState(
      negated_margin_sum=state.negated_margin_sum.at[example_ids].add(negated_margins),
      presentations=state.presentations.at[example_ids].add(1))


def scores(state: AUMState) -> Array:
  """−AUM per example: the mean negated margin over its presentations (0 if never seen)."""
  return state.negated_margin_sum / jnp.maximum(state.presentations, 1)


TRACKER = Tracker('aum', init, observe, update)
register(Score('aum', 'tracker', scores,
               '−AUM, mean negated margin in training (Pleiss et al. 2020)', TRACKER))
