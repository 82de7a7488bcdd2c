"""Checks of config fields by kind (seeds, positive numbers, counts), for preflight and the stages.

Each raises one :class:`~datadiet.errors.InputError` naming the field (dotted, as it is set on
the command line) and what it must be.
"""

from __future__ import annotations

import ml_collections

from datadiet import errors

_MAX_SEED = 2**32  # Seeds become uint32 PRNG keys.


def field_value(config: ml_collections.ConfigDict, field: str):
  """The value of a dotted field (``'optim.batch_size'``), or None if there is none."""
  for key in field.split('.'):
    if not isinstance(config, ml_collections.ConfigDict) or key not in config:
      return None
    config = config[key]
  return config


def seeds(field: str, given) -> None:
  """A non-empty tuple of distinct integers in [0, 2³²): two equal seeds are one model twice."""
  if not isinstance(given, (tuple, list)):
    raise errors.InputError(
        f'config.{field} must be a tuple of seeds, got {given!r}; e.g. '
        f'--config.{field}="(0,1,2,3)" for four models.')
  if not given:
    raise errors.InputError(f'config.{field} is empty; give at least one seed.')
  bad = [s for s in given if isinstance(s, bool) or not isinstance(s, int)
         or not 0 <= s < _MAX_SEED]
  if bad:
    raise errors.InputError(f'config.{field} holds {bad}; seeds are integers in [0, 2**32).')
  repeated = sorted({s for s in given if list(given).count(s) > 1})
  if repeated:
    raise errors.InputError(f'config.{field} repeats {repeated}: equal seeds train identical '
                            'models; give distinct seeds.')


def positive(config: ml_collections.ConfigDict, fields) -> None:
  """Each dotted field in ``fields`` is a number > 0."""
  for field in fields:
    value = field_value(config, field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
      raise errors.InputError(f'config.{field} must be a positive number, got {value!r}.')


def non_negative_ints(config: ml_collections.ConfigDict, fields) -> None:
  """Each dotted field in ``fields`` is an integer >= 0."""
  for field in fields:
    value = field_value(config, field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
      raise errors.InputError(f'config.{field} must be an integer >= 0, got {value!r}.')


def in_interval(field: str, value, low: float, high: float, *, open_low: bool = False,
                open_high: bool = False, hint: str = '') -> float:
  """``value`` of ``config.<field>`` as a float, if it is a number in the interval from ``low``
  to ``high`` (each end closed unless ``open_low``/``open_high``); ``hint`` follows the message
  (e.g. ``' (airbench: 0.2)'``)."""
  number = not isinstance(value, bool) and isinstance(value, (int, float))
  inside = number and (low < value if open_low else low <= value) and (
      value < high if open_high else value <= high)
  if not inside:
    interval = f'{"(" if open_low else "["}{low:g}, {high:g}{")" if open_high else "]"}'
    raise errors.InputError(f'config.{field} must be in {interval}{hint}, got {value!r}.')
  return float(value)


def distinct_numbers(field: str, values, low: float, high: float | None,
                     example: str) -> None:
  """``config.<field>`` must list distinct numbers, at least one, each in [``low``, ``high``)
  (``high`` None: each above ``low``); ``example`` shows a valid value."""
  span = f'fractions in [{low:g}, {high:g})' if high is not None else f'numbers > {low:g}'
  for value in values:
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if not number or (value >= high if high is not None else value <= low) or value < low:
      raise errors.InputError(f'config.{field} must be {span}, got {value!r}; e.g. {example}.')
  if not values or len(set(values)) != len(values):
    raise errors.InputError(f'config.{field} must list distinct values (at least one), got '
                            f'{tuple(values)!r}; e.g. {example}.')

