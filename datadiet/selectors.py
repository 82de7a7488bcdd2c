"""The pruning methods a run can use: the one list of them, with their options and checks.

A :class:`Method` turns the K-seed mean scores of the training split (``None`` for a method that
uses none), its labels, the number of examples to keep and the prune seed into the kept
positions, reading its options from the config. ``check_config`` refuses options it cannot use
and ``check_subset`` a subset it cannot make; preflight runs both for every configured method
before any work. Adding a method: its selector in :mod:`datadiet.pruning`, one :func:`register`
line below, its test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import ml_collections
import numpy as np

from datadiet import errors, pruning
from datadiet.registries import Registry

# (scores or None, labels, size, seed, config) -> sorted kept positions.
SelectFn = Callable[[np.ndarray | None, np.ndarray, int, int, ml_collections.ConfigDict],
                    np.ndarray]


def _no_config_check(config: ml_collections.ConfigDict) -> None:
  del config


def _no_subset_check(config: ml_collections.ConfigDict, num_examples: int, size: int,
                     subset: dict) -> None:
  del config, num_examples, size, subset


@dataclasses.dataclass(frozen=True)
class Method:
  """A registered pruning method."""
  name: str
  uses_scores: bool
  select: SelectFn
  check_config: Callable[[ml_collections.ConfigDict], None] = _no_config_check
  # (config, number of examples, kept size, the subset's plan entry) -> None, or InputError.
  check_subset: Callable[[ml_collections.ConfigDict, int, int, dict], None] = _no_subset_check


METHODS: Registry[Method] = Registry('pruning method', 'methods')
register = METHODS.register
check = METHODS.check


def get(name: str) -> Method:
  """The registered method ``name``; an unknown name lists the valid ones."""
  return METHODS[name]


def _check_fraction(config: ml_collections.ConfigDict, field: str) -> None:
  value = config.get(field)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
    raise errors.InputError(f'config.{field} must be in [0, 1), got {value!r}.')


def offset_size(config: ml_collections.ConfigDict, num_examples: int) -> int:
  """How many of the hardest examples the ``offset`` method drops."""
  return int(round(config.offset_fraction * num_examples))


def _check_offset_band(config, num_examples, size, subset):
  offset = offset_size(config, num_examples)
  if offset + size > num_examples:
    raise errors.InputError(
        f'Subset {subset["name"]}: dropping the {offset} hardest (offset_fraction '
        f'{config.offset_fraction}) and keeping the next {size} needs {offset + size} '
        f'examples, but the dataset has {num_examples}; lower offset_fraction below '
        f'{subset["fraction_pruned"]:g} (the fraction pruned).')


def _check_ccs(config):
  _check_fraction(config, 'ccs_hard_cutoff')
  if isinstance(config.ccs_num_strata, bool) or not isinstance(config.ccs_num_strata, int) \
      or config.ccs_num_strata < 1:
    raise errors.InputError(
        f'config.ccs_num_strata must be an integer >= 1, got {config.ccs_num_strata!r}.')


register(Method('keep_hardest', True,
                lambda scores, labels, size, seed, config: pruning.keep_hardest(scores, size)))
register(Method('offset', True,
                lambda scores, labels, size, seed, config: pruning.keep_hardest(
                    scores, size, offset=offset_size(config, len(scores))),
                check_config=lambda config: _check_fraction(config, 'offset_fraction'),
                check_subset=_check_offset_band))
register(Method('class_balanced', True,
                lambda scores, labels, size, seed, config: pruning.class_balanced(
                    pruning.keep_hardest, scores, labels, size)))
register(Method('ccs', True,
                lambda scores, labels, size, seed, config: pruning.coverage_centric(
                    scores, size, seed=seed, num_strata=config.ccs_num_strata,
                    hard_cutoff=config.ccs_hard_cutoff),
                check_config=_check_ccs))
register(Method('random', False,
                lambda scores, labels, size, seed, config: pruning.random_subset(
                    len(labels), size, seed)))
