"""Optimizers and learning-rate schedules from config (optax).

The paper's recipe: SGD with Nesterov momentum 0.9, weight decay 5e-4, learning rate 0.1
multiplied by 0.2 at epochs 60, 120 and 160 of 200 (``schedule='piecewise'``). Decay points are
given as fractions of the run (0.3, 0.6, 0.8), so under a fixed *step* budget a pruned subset
decays at the same steps as the full set (23,400, 46,800 and 62,400 of 78,000), as in the paper. Also available:
``cosine`` decay and ``onecycle``, and ``constant``.

The training budget is set in ``steps`` or ``epochs`` (``budget_unit``); the paper keeps
78,000 steps for every subset size, so a 50% subset sees twice the epochs.
"""

from __future__ import annotations

import math

import ml_collections
import optax

from datadiet import errors

SCHEDULES = ('piecewise', 'cosine', 'onecycle', 'constant')
BUDGET_UNITS = ('steps', 'epochs')


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
  """Batches per pass over ``num_examples`` (the last one may straddle into the next epoch)."""
  return max(1, math.ceil(num_examples / batch_size))


def total_steps(config: ml_collections.ConfigDict, num_examples: int) -> int:
  """The run's length in steps from ``config.budget`` in ``config.budget_unit``."""
  if config.budget_unit not in BUDGET_UNITS:
    raise errors.InputError(f'Unknown budget_unit {config.budget_unit!r}; valid: '
                            f'{", ".join(BUDGET_UNITS)}.')
  if config.budget_unit == 'steps':
    return int(config.budget)
  return int(round(config.budget * steps_per_epoch(num_examples, config.batch_size)))


def make_schedule(config: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
  """The learning-rate schedule named by ``config.schedule`` over a run of ``num_steps``."""
  lr = config.learning_rate
  if config.schedule == 'piecewise':
    boundaries = {int(round(f * num_steps)): config.lr_decay_factor
                  for f in config.lr_decay_fractions}
    return optax.piecewise_constant_schedule(lr, boundaries)
  if config.schedule == 'cosine':
    return optax.cosine_decay_schedule(lr, max(num_steps, 1))
  if config.schedule == 'onecycle':
    return optax.cosine_onecycle_schedule(max(num_steps, 2), lr)
  if config.schedule == 'constant':
    return optax.constant_schedule(lr)
  raise errors.InputError(f'Unknown schedule {config.schedule!r}; valid: {", ".join(SCHEDULES)}.')


def make_optimizer(config: ml_collections.ConfigDict,
                   num_steps: int) -> optax.GradientTransformation:
  """SGD (Nesterov momentum) with decoupled-from-schedule L2 weight decay, as in the paper."""
  return optax.chain(
      optax.add_decayed_weights(config.weight_decay),
      optax.sgd(make_schedule(config, num_steps), momentum=config.momentum,
                nesterov=config.nesterov),
  )
