"""Optimizers and learning-rate schedules from config (optax).

The paper's recipe: SGD with Nesterov momentum 0.9, weight decay 5e-4, learning rate 0.1
multiplied by 0.2 at epochs 60, 120 and 160 of 200 (``schedule='piecewise'``). Decay points are
given as fractions of the run (0.3, 0.6, 0.8), so under a fixed *step* budget a pruned subset
decays at the same steps as the full set (23,400, 46,800 and 62,400 of 78,000), as in the paper.
Also available: ``cosine`` decay and ``onecycle``, and ``constant``.

The training budget is set in ``steps`` or ``epochs`` (``config.optim.budget_unit``); the paper
keeps 78,000 steps for every subset size, so a 50% subset sees twice the epochs.
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
  """The run's length in steps from ``config.optim.budget`` in ``config.optim.budget_unit``."""
  if config.optim.budget_unit not in BUDGET_UNITS:
    raise errors.InputError(f'Unknown budget_unit {config.optim.budget_unit!r}; valid: '
                            f'{", ".join(BUDGET_UNITS)}.')
  if config.optim.budget_unit == 'steps':
    return int(config.optim.budget)
  return int(round(config.optim.budget * steps_per_epoch(num_examples, config.optim.batch_size)))


def make_schedule(config: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
  """The learning-rate schedule named by ``config.optim.schedule`` over a run of ``num_steps``,
  after a linear warm-up from 0 over ``config.optim.warmup_fraction`` of the run (if any)."""
  fraction = config.optim.get('warmup_fraction', 0.0)  # Configs of their own may omit it.
  if not (isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
          and 0 <= fraction < 1):
    raise errors.InputError(f'config.optim.warmup_fraction must be in [0, 1), got '
                            f'{fraction!r}.')
  warmup = int(round(fraction * num_steps))
  if not warmup:
    return _decay_schedule(config, num_steps)
  return optax.join_schedules(
      [optax.linear_schedule(0.0, config.optim.learning_rate, warmup),
       _decay_schedule(config, num_steps - warmup)], [warmup])


def _decay_schedule(config: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
  lr = config.optim.learning_rate
  if config.optim.schedule == 'piecewise':
    boundaries = {int(round(f * num_steps)): config.optim.lr_decay_factor
                  for f in config.optim.lr_decay_fractions}
    return optax.piecewise_constant_schedule(lr, boundaries)
  if config.optim.schedule == 'cosine':
    return optax.cosine_decay_schedule(lr, max(num_steps, 1))
  if config.optim.schedule == 'onecycle':
    return optax.cosine_onecycle_schedule(max(num_steps, 2), lr)
  if config.optim.schedule == 'constant':
    return optax.constant_schedule(lr)
  raise errors.InputError(
      f'Unknown schedule {config.optim.schedule!r}; valid: {", ".join(SCHEDULES)}.')


def make_optimizer(config: ml_collections.ConfigDict,
                   num_steps: int) -> optax.GradientTransformation:
  """SGD (Nesterov momentum) with decoupled-from-schedule L2 weight decay, as in the paper."""
  return optax.chain(
      optax.add_decayed_weights(config.optim.weight_decay),
      optax.sgd(make_schedule(config, num_steps), momentum=config.optim.momentum,
                nesterov=config.optim.nesterov),
  )
