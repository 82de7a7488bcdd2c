"""Optimizers and learning-rate schedules from config (optax).

The paper's recipe: SGD with Nesterov momentum 0.9, weight decay 5e-4, learning rate 0.1
multiplied by 0.2 at epochs 60, 120 and 160 of 200 (``schedule='piecewise'``). Decay points are
given as fractions of the run (0.3, 0.6, 0.8), so under a fixed *step* budget a pruned subset
decays at the same steps as the full set (23,400, 46,800 and 62,400 of 78,000), as in the paper.
Also available: ``cosine`` decay, ``onecycle``, ``linear`` decay to ``final_lr_factor`` of the
rate (airbench's, after a warm-up from ``warmup_init_factor`` of it), and ``constant``.

Parameter groups (``config.optim.param_groups``, airbench's recipe) give the parameters whose
``/``-joined path matches a regular expression their own gradient multiplier (airbench: the
BatchNorm biases' 64× learning rate, which leaves their weight decay as it is) and a fraction of
the run after which they stop training (airbench: the whitening bias after 3 of its 9.9 epochs).
Like the decay points, the stop is a fraction of the run, so a pruned subset trained for the same
steps stops it at the same step.

The training budget is set in ``steps`` or ``epochs`` (``config.optim.budget_unit``); the paper
keeps 78,000 steps for every subset size, so a 50% subset sees twice the epochs.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import jax
import ml_collections
import optax

from datadiet import config_checks, errors
from datadiet.scores.losses import (LogitLossFn, label_smoothed_cross_entropy,
                                    softmax_cross_entropy)

SCHEDULES = ('piecewise', 'cosine', 'onecycle', 'linear', 'constant')
BUDGET_UNITS = ('steps', 'epochs')
DEFAULT_GROUP = 'default'  # The parameters no group of config.optim.param_groups matches.
_GROUP_FIELDS = ('params', 'lr_multiplier', 'train_fraction')


def with_fields(config: ml_collections.ConfigDict, **fields) -> ml_collections.ConfigDict:
  """A copy of ``config`` whose ``optim`` block has ``fields`` replaced (the recipe of one kind
  of run: the scoring seeds', the retraining seeds')."""
  changed = config.copy_and_resolve_references()
  with changed.unlocked():
    for name, value in fields.items():
      changed.optim[name] = value
  return changed


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
  after a linear warm-up from ``warmup_init_factor`` × the rate over
  ``config.optim.warmup_fraction`` of the run (if any)."""
  fraction = config_checks.in_interval(  # Configs of their own may omit these.
      'optim.warmup_fraction', config.optim.get('warmup_fraction', 0.0), 0, 1, open_high=True)
  start = config_checks.in_interval('optim.warmup_init_factor',
                                    config.optim.get('warmup_init_factor', 0.0), 0, 1)
  warmup = int(round(fraction * num_steps))
  if not warmup:
    return _decay_schedule(config, num_steps)
  rate = config.optim.learning_rate
  return optax.join_schedules(
      [optax.linear_schedule(start * rate, rate, warmup),
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
  if config.optim.schedule == 'linear':
    final = config_checks.in_interval('optim.final_lr_factor',
                                      config.optim.get('final_lr_factor', 0.0), 0, 1)
    return optax.linear_schedule(lr, final * lr, max(num_steps, 1))
  if config.optim.schedule == 'constant':
    return optax.constant_schedule(lr)
  raise errors.InputError(
      f'Unknown schedule {config.optim.schedule!r}; valid: {", ".join(SCHEDULES)}.')


def training_loss(config: ml_collections.ConfigDict) -> LogitLossFn:
  """The per-example training loss: cross-entropy, label-smoothed by
  ``config.optim.label_smoothing`` when set (evaluation and every score use the plain one)."""
  smoothing = config_checks.in_interval('optim.label_smoothing',
                                        config.optim.get('label_smoothing', 0.0), 0, 1,
                                        open_high=True, hint=' (airbench: 0.2)')
  if not smoothing:
    return softmax_cross_entropy
  return functools.partial(label_smoothed_cross_entropy, smoothing=smoothing)


def check_hyperparameters(config: ml_collections.ConfigDict) -> None:
  """Refuses values of ``config.optim`` no optimizer can use: they would only fail as a
  non-finite loss, mid-run."""
  optim = config.optim
  rate = optim.learning_rate
  if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < float('inf'):
    raise errors.InputError(f'config.optim.learning_rate must be a positive finite number, got '
                            f'{rate!r}.')
  if not 0 <= optim.momentum < 1:
    raise errors.InputError(f'config.optim.momentum must be in [0, 1), got {optim.momentum!r}.')
  if not optim.weight_decay >= 0:
    raise errors.InputError(f'config.optim.weight_decay must be >= 0, got '
                            f'{optim.weight_decay!r}.')
  fractions = optim.lr_decay_fractions
  if any(not 0 < f < 1 for f in fractions) or list(fractions) != sorted(fractions):
    raise errors.InputError(f'config.optim.lr_decay_fractions must be increasing fractions of the '
                            f'run in (0, 1), got {fractions!r}.')


def make_optimizer(config: ml_collections.ConfigDict,
                   num_steps: int) -> optax.GradientTransformation:
  """SGD (Nesterov momentum) with decoupled-from-schedule L2 weight decay, as in the paper; with
  ``config.optim.param_groups``, each group's gradient multiplier and stop (see the module
  docstring)."""
  sgd = optax.chain(
      optax.add_decayed_weights(config.optim.weight_decay),
      optax.sgd(make_schedule(config, num_steps), momentum=config.optim.momentum,
                nesterov=config.optim.nesterov),
  )
  groups = param_groups(config)
  if not groups:
    return sgd
  transforms = {DEFAULT_GROUP: sgd}
  for name, group in groups.items():
    stop = int(round(group['train_fraction'] * num_steps))
    transforms[name] = optax.chain(
        optax.scale(group['lr_multiplier']), sgd,
        # Zero once the group stops: its parameters then stay as they are (momentum included).
        optax.scale_by_schedule(lambda count, stop=stop: (count < stop).astype('float32')))
  return optax.multi_transform(transforms, lambda params: group_labels(config, params))




def param_groups(config: ml_collections.ConfigDict) -> dict[str, dict[str, Any]]:
  """``config.optim.param_groups`` checked: ``{name: {params (regex), lr_multiplier,
  train_fraction}}`` in their order ({} in configs without groups).

  Raises:
    InputError: a group without all three fields, a regex that does not compile, a multiplier
      that is not positive, or a train fraction outside (0, 1].
  """
  groups = config.optim.get('param_groups', None)
  groups = {} if groups is None else groups.to_dict()
  for name, group in groups.items():
    where = f'config.optim.param_groups.{name}'
    if name == DEFAULT_GROUP or not isinstance(group, dict) or set(group) != set(_GROUP_FIELDS):
      raise errors.InputError(
          f'{where} must be dict(params=<regex over parameter paths>, lr_multiplier=<float>, '
          f'train_fraction=<fraction of the run>), named other than {DEFAULT_GROUP!r}; got '
          f'{group!r}.')
    try:
      re.compile(group['params'])
    except (re.error, TypeError) as e:
      raise errors.InputError(f"{where}.params '{group['params']}' is not a regular "
                              f'expression ({e}).') from e
    multiplier = group['lr_multiplier']
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or multiplier <= 0:
      raise errors.InputError(f'{where}.lr_multiplier must be a positive number, got '
                              f'{multiplier!r}.')
    config_checks.in_interval(f'optim.param_groups.{name}.train_fraction',
                              group['train_fraction'], 0, 1, open_low=True,
                              hint=' (1: the whole run)')
  return groups


def parameter_path(path: tuple) -> str:
  """A parameter's path in its pytree as ``'group1/norm1/bias'``."""
  return '/'.join(str(getattr(key, 'key', key)) for key in path)


def group_labels(config: ml_collections.ConfigDict, params: Any) -> Any:
  """The pytree of ``params`` with each leaf's group name: the group whose ``params`` regex
  matches the leaf's path (``re.search``; :func:`check_param_groups` refuses a leaf that two
  match), else ``'default'``."""
  groups = param_groups(config)

  def label(path, _):
    text = parameter_path(path)
    return next((name for name, g in groups.items() if re.search(g['params'], text)),
                DEFAULT_GROUP)
  return jax.tree_util.tree_map_with_path(label, params)


def check_param_groups(config: ml_collections.ConfigDict, params: Any) -> None:
  """Raises an InputError for a parameter that two groups match (which group it trains with
  would depend on their order), or a group that matches none of the model's parameters (a typo
  would otherwise leave the recipe silently without it), listing the parameter paths."""
  groups = param_groups(config)
  paths = [parameter_path(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)]
  matched = {path: [name for name, g in groups.items() if re.search(g['params'], path)]
             for path in paths}
  shared = {path: names for path, names in matched.items() if len(names) > 1}
  if shared:
    path, names = next(iter(shared.items()))
    raise errors.InputError(
        f'config.optim.param_groups {names} all match {path}'
        + (f' (and {len(shared) - 1} more parameters)' if len(shared) > 1 else '')
        + '; a parameter trains in one group: make their params regexes disjoint.')
  empty = [name for name in groups if not any(name in names for names in matched.values())]
  if empty:
    raise errors.InputError(
        f'config.optim.param_groups {empty} match no parameter of {config.model.name}; its '
        f'parameters: {", ".join(paths)}.')
