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
``scores``, preflight, the scoring stage and the report all read this registry. Adding a score:
its function in a module of ``datadiet/scores/``, one :func:`register` line below, its test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Literal

from datadiet.registries import Registry
from datadiet.scores import accumulated, aum, baselines, forgetting, logit_scores
from datadiet.scores.grand import grand
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


def _grand(model, variables, images, labels, mask, apply_kwargs):
  return grand(model, variables, images, labels, mask, apply_kwargs=apply_kwargs)


register(Score('el2n', 'logits', logit_scores.el2n,
               'EL2N: ‖softmax(f(x)) − onehot(y)‖₂ (Paul et al. 2021)'))
register(Score('l1_error', 'logits', logit_scores.l1_error,
               '‖softmax(f(x)) − onehot(y)‖₁ (the authors\' code)'))
register(Score('prob_margin', 'logits', logit_scores.prob_margin,
               'negated probability margin: max_{k≠y} p_k − p_y (the authors\' code)'))
register(Score('loss', 'logits', logit_scores.loss, 'cross-entropy of the labelled class'))
register(Score('margin', 'logits', logit_scores.margin,
               'negated logit margin: largest other logit minus the labelled one'))
register(Score('entropy', 'logits', logit_scores.entropy, 'predictive entropy (label-free)'))
register(Score('grand', 'model', _grand,
               'GraNd: ‖∇_θ loss‖₂ over all parameters (Paul et al. 2021)'))
register(Score('input_norm', 'inputs', baselines.input_norm, '‖x‖₂ of the normalised input'))
register(Score('random', 'ids', baselines.random_score, 'uniform, keyed by example id'))
register(Score('forgetting', 'tracker', forgetting.scores,
               'forgetting events over training (Toneva et al. 2019)', forgetting.TRACKER,
               finalize=forgetting.finite_ranking))
register(Score('aum', 'tracker', aum.scores, '−AUM, mean negated margin in training (Pleiss '
               'et al. 2020)', aum.TRACKER))
register(Score('el2n_sum', 'tracker', accumulated.total, 'EL2N summed over the presentations up '
               'to the scoring step (accumulated, Zheng et al. 2023)', accumulated.EL2N_SUM,
               at_score_steps=True))
register(Score('loss_sum', 'tracker', accumulated.total, 'loss summed over the presentations up '
               'to the scoring step', accumulated.LOSS_SUM, at_score_steps=True))
register(Score('dynamic_uncertainty', 'tracker', accumulated.variance, 'variance of the label\'s '
               'predicted probability over all presentations (a simplified form of He et al. '
               '2023, who average the standard deviation over sliding windows of epochs)',
               accumulated.LABEL_PROBABILITY, at_score_steps=True))
