"""The scores a run can compute: the one list of them, each with what it needs from a batch.

A :class:`Score` names how it is computed:

* ``'logits'``: ``fn(logits, labels, mask) -> (batch,)``, from the one evaluation-mode forward
  pass that every such score of a batch shares;
* ``'model'``: ``fn(model, variables, images, labels, mask, apply_kwargs) -> (batch,)``;
* ``'inputs'``: ``fn(images, mask) -> (batch,)``, no model;
* ``'ids'``: ``fn(rng_key, example_keys, mask) -> (batch,)``, no model, keyed by example id;
* ``'tracker'``: ``fn(tracker_state) -> (N,)``, read from the state of its ``tracker``
  (:mod:`datadiet.scores.trackers`), which the training step accumulates when the score is
  configured: at the end of the pretraining budget (forgetting, AUM: pretraining then trains
  the whole budget), or, with ``at_score_steps``, from each scoring step's checkpoint (the
  accumulated scores: the sums over the first steps).

Scores that need no model are computed once, at the first scoring step. The config's
``scores``, preflight, the scoring stage and the report all read this registry. Each score is
registered beside its function, in its module of ``datadiet/scores/`` (``register(Score(...))``
after the ``def``); :mod:`datadiet.scores` imports the modules in the order the registry lists
them. Adding a score: its function and that one line, its test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Literal

from datadiet.registries import Registry
from datadiet.scores.trackers import Tracker

Needs = Literal['logits', 'model', 'inputs', 'ids', 'tracker']


@dataclasses.dataclass(frozen=True)
class Score:
  """A registered score: its name, what it is computed from, and the function."""
  name: str
  needs: Needs
  fn: Callable
  description: str
  tracker: Tracker | None = None  # What the training step accumulates, for needs='tracker'.
  # (K, N) per-seed values -> the per-seed values a score file stores (finite), when the
  # function's own are not (forgetting's never-learned inf); None: stored as computed.
  finalize: Callable | None = None
  at_score_steps: bool = False  # A tracker score read at every scoring step, not at the end.

  @property
  def model_free(self) -> bool:
    """Computed without a model: the same at every step, so computed once."""
    return self.needs in ('inputs', 'ids')

  @property
  def per_batch(self) -> bool:
    """Computed batch by batch from a checkpoint (not read from a training-time tracker)."""
    return self.needs != 'tracker'


SCORES: Registry[Score] = Registry('score', 'scores')
register = SCORES.register
check = SCORES.check


def get(name: str) -> Score:
  """The registered score ``name``; an unknown name lists the valid ones."""
  return SCORES[name]


def trackers_for(names: Sequence[str]) -> tuple[Tracker, ...]:
  """The trackers the training step must carry for the scores ``names`` (each once)."""
  trackers = [score.tracker for score in map(get, names) if score.needs == 'tracker']
  return tuple({tracker.name: tracker for tracker in trackers}.values())
