"""Per-example statistics accumulated by the training step: the plug-in for training-time scores.

A :class:`Tracker` observes every training batch: ``observe(logits, labels)`` gives a
per-example value (computed where the batch's shard lives), the values of all shards are
gathered, and ``update(state, example_indices, observed)`` folds them into a state over all N
training examples. The training step carries the trackers that the configured scores need, and
none otherwise (``EnsembleState.trackers``, keyed by name). A score that reads one is registered
with ``needs='tracker'`` (:mod:`datadiet.scores.registry`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Tracker:
  """A training-time statistic: its state, what it reads from a batch, how it accumulates."""
  name: str
  init: Callable[[int], Any]  # number of training examples -> state
  observe: Callable[[Array, Array], Any]  # (logits (B, C), labels (B,)) -> per-example values
  # (state, dense example indices (B,), observed values) -> state; indices may repeat.
  update: Callable[[Any, Array, Any], Any]
