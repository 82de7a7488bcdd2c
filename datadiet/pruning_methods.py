"""The pruning methods a config can name (``prune.methods``): the one list of them, each
registered beside its selection, with its options and checks.

A :class:`Method` turns the K-seed mean scores of the training split (``None`` for a method that
uses none), its labels, the number of examples to keep and the prune seed into the kept
positions, with its options as keyword arguments. Its ``defaults`` are the options it takes
(``configs/base.py`` puts them in ``config.prune.kwargs.<method>``, where a config or
``--config.prune.kwargs.offset.fraction=0.05`` changes them); ``check_options`` refuses values it
cannot use and ``check_subset`` a subset it cannot make; preflight runs both for every configured
method before any work. A method whose options hold ``per_seed=True`` is drawn once per
retraining seed (from :func:`subset_seed`), and each seed retrains on its own subset. Adding a
method: its algorithm in :mod:`datadiet.pruning` (plain NumPy, usable on its own), its selection
below under ``@method(...)``, its test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import ml_collections
import numpy as np

from datadiet import errors, pruning
from datadiet.registries import Registry

# (scores or None, labels, size, seed, **options) -> sorted kept positions.
SelectFn = Callable[..., np.ndarray]


def _no_options_check(options: dict) -> None:
  del options


def _no_subset_check(options: dict, num_examples: int, size: int, subset: dict) -> None:
  del options, num_examples, size, subset


@dataclasses.dataclass(frozen=True)
class Method:
  """A registered pruning method."""
  name: str
  uses_scores: bool
  select: SelectFn
  # Its options and their default values (the paper's, or its authors').
  defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  check_options: Callable[[dict], None] = _no_options_check
  # (options, number of examples, kept size, the subset's plan entry) -> None, or InputError.
  check_subset: Callable[[dict, int, int, dict], None] = _no_subset_check
  # (options, fraction pruned) -> the keyword arguments of `select` for that subset.
  resolve: Callable[[dict, float], dict] = lambda options, fraction_pruned: dict(options)
  # Options that name a score ('aum', 'aum@78000'): the run loads it and passes its K-seed mean
  # under the same name ('' stays None: no such score).
  score_options: tuple[str, ...] = ()

  def options(self, config: ml_collections.ConfigDict) -> dict:
    """This method's options in ``config.prune.kwargs.<name>`` (its defaults where unset); an
    option it does not take is an InputError."""
    given = config.prune.kwargs.get(self.name)
    options, unknown = self.merged({} if given is None else given.to_dict())
    if unknown:
      raise errors.InputError(
          f'config.prune.kwargs.{self.name} sets {", ".join(unknown)}, which the {self.name} '
          f'method does not take; its options: {", ".join(self.defaults) or "none"}.')
    return options

  def resolved(self, config: ml_collections.ConfigDict, fraction_pruned: float) -> dict:
    """The keyword arguments of :attr:`select` for a subset pruning ``fraction_pruned``: this
    method's options in ``config`` (:meth:`options`) as :attr:`resolve` turns them."""
    return self.resolve(self.options(config), fraction_pruned)

  def merged(self, given: dict) -> tuple[dict, list[str]]:
    """``given`` over this method's defaults, and the names it sets that the method does not
    take."""
    return {**self.defaults, **given}, sorted(set(given) - set(self.defaults))


METHODS: Registry[Method] = Registry('pruning method', 'methods')
check = METHODS.check


def method(name: str, uses_scores: bool, **fields) -> Callable[[SelectFn], SelectFn]:
  """Registers the decorated selection as the pruning method ``name`` (``fields``: the
  :class:`Method`'s other fields); returns the selection unchanged."""
  def register(select: SelectFn) -> SelectFn:
    METHODS.register(Method(name, uses_scores, select, **fields))
    return select
  return register


def get(name: str) -> Method:
  """The registered method ``name``; an unknown name lists the valid ones."""
  return METHODS[name]


def default_kwargs() -> dict[str, dict]:
  """``{method: its default options}`` for every method that has options (``prune.kwargs``)."""
  return {name: dict(method.defaults) for name, method in METHODS.items() if method.defaults}


def _check_bool(method: str, option: str, value) -> None:
  if not isinstance(value, bool):
    raise errors.InputError(f'config.prune.kwargs.{method}.{option} must be True or False, got '
                            f'{value!r}.')


def subset_seed(prune_seed: int, retrain_seed: int) -> int:
  """The seed of the subset that retraining seed ``retrain_seed`` trains on, for a method drawn
  per seed (option ``per_seed``)."""
  return int(np.random.SeedSequence([prune_seed, retrain_seed]).generate_state(1)[0])


def _check_fraction(method: str, option: str, value) -> None:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
    raise errors.InputError(f'config.prune.kwargs.{method}.{option} must be in [0, 1), got '
                            f'{value!r}.')


OFFSET_ENDS = ('hardest', 'easiest')


def offset_size(fraction: float, num_examples: int) -> int:
  """How many examples the ``offset`` method skips at the end it counts from."""
  return int(round(fraction * num_examples))


def hardest_offset(fraction: float, offset_from: str, num_examples: int, size: int) -> int:
  """The number of hardest examples dropped by a band of ``size`` that starts ``fraction`` of
  the dataset from the ``offset_from`` end. From the easiest end (the authors' code:
  ``argsort(scores)[offset:offset + size]``, ascending) a band skipping ``o`` easiest examples
  is the band dropping ``n − o − size`` hardest."""
  offset = offset_size(fraction, num_examples)
  return offset if offset_from == 'hardest' else num_examples - offset - size


def _check_offset_options(options):
  _check_fraction('offset', 'fraction', options['fraction'])
  if options['offset_from'] not in OFFSET_ENDS:
    raise errors.InputError(f'config.prune.kwargs.offset.offset_from must be one of '
                            f'{", ".join(OFFSET_ENDS)}, got {options["offset_from"]!r}.')


def _check_offset_band(options, num_examples, size, subset):
  offset = offset_size(options['fraction'], num_examples)
  if offset + size > num_examples:
    raise errors.InputError(
        f'Subset {subset["name"]}: skipping the {offset} {options["offset_from"]} (prune.kwargs.'
        f'offset.fraction {options["fraction"]}) and keeping the next {size} needs '
        f'{offset + size} examples, but the dataset has {num_examples}; lower '
        f'prune.kwargs.offset.fraction below {subset["fraction_pruned"]:g} (the fraction '
        'pruned).')


def _ccs_cutoff(options: dict, fraction_pruned: float) -> float:
  """β for a subset pruning ``fraction_pruned``: its entry in ``hard_cutoffs`` (pairs of
  fraction pruned and β, as the CCS paper tunes β per pruning rate), else ``hard_cutoff``."""
  table = {round(float(f), 6): float(beta) for f, beta in options['hard_cutoffs']}
  return table.get(round(float(fraction_pruned), 6), options['hard_cutoff'])


def _resolve_ccs(options: dict, fraction_pruned: float) -> dict:
  cutoff = options['cutoff_score']
  return dict(num_strata=options['num_strata'],
              cutoff_score=None if isinstance(cutoff, str) and not cutoff else cutoff,
              hard_cutoff=_ccs_cutoff(options, fraction_pruned))


def _check_ccs_subset(options, num_examples, size, subset):
  beta = _ccs_cutoff(options, subset['fraction_pruned'])
  cut = int(round(beta * num_examples))
  if cut + size > num_examples:
    raise errors.InputError(
        f'Subset {subset["name"]}: cutting the {cut} hardest (CCS β {beta:g}) and keeping '
        f'{size} needs {cut + size} examples, but the dataset has {num_examples}; give this '
        f'pruning rate a β below {subset["fraction_pruned"]:g} (prune.kwargs.ccs.hard_cutoff or '
        'hard_cutoffs).')


def _check_ccs(options):
  _check_fraction('ccs', 'hard_cutoff', options['hard_cutoff'])
  pairs = options['hard_cutoffs']
  if not isinstance(pairs, (tuple, list)) or any(
      not isinstance(p, (tuple, list)) or len(p) != 2 for p in pairs):
    raise errors.InputError(f'config.prune.kwargs.ccs.hard_cutoffs must be pairs (fraction '
                            f'pruned, β), e.g. ((0.9, 0.3),), got {pairs!r}.')
  for fraction, beta in pairs:
    _check_fraction('ccs', 'hard_cutoffs', fraction)
    _check_fraction('ccs', 'hard_cutoffs', beta)
  rates = [round(float(fraction), 6) for fraction, _ in pairs]
  repeated = sorted({r for r in rates if rates.count(r) > 1})
  if repeated:
    raise errors.InputError(f'config.prune.kwargs.ccs.hard_cutoffs gives pruning rate(s) '
                            f'{repeated} more than one β; give each rate once.')
  if not isinstance(options['cutoff_score'], (str, np.ndarray)):
    raise errors.InputError(f'config.prune.kwargs.ccs.cutoff_score must name a score (e.g. '
                            f"'aum'), or be '' for the stratified one, got "
                            f"{options['cutoff_score']!r}.")
  strata = options['num_strata']
  if isinstance(strata, bool) or not isinstance(strata, int) or strata < 1:
    raise errors.InputError(
        f'config.prune.kwargs.ccs.num_strata must be an integer >= 1, got {strata!r}.')


@method('keep_hardest', uses_scores=True)
def keep_hardest(scores, labels, size, seed):
  """The ``size`` highest scores (the paper's pruning)."""
  del labels, seed
  return pruning.keep_hardest(scores, size)


# The paper's band counts from the hardest end; the authors' code counts from the easiest.
@method('offset', uses_scores=True, defaults=dict(fraction=0.02, offset_from='hardest'),
        check_options=_check_offset_options, check_subset=_check_offset_band)
def offset(scores, labels, size, seed, fraction, offset_from):
  """The ``size`` highest scores after skipping ``fraction`` of the dataset at one end."""
  del labels, seed
  return pruning.keep_hardest(
      scores, size, offset=hardest_offset(fraction, offset_from, len(scores), size))


@method('class_balanced', uses_scores=True)
def class_balanced(scores, labels, size, seed):
  """The hardest of each class, every class keeping its share of ``size``."""
  del seed
  return pruning.class_balanced(pruning.keep_hardest, scores, labels, size)


# CCS as published: cutoff_score='aum' (the hardest by AUM are cut, whatever is stratified) and
# hard_cutoffs=((fraction pruned, β), ...); by default the stratified score is cut, by one β.
@method('ccs', uses_scores=True,
        defaults=dict(num_strata=50, hard_cutoff=0.02, hard_cutoffs=(), cutoff_score=''),
        check_options=_check_ccs, resolve=_resolve_ccs, check_subset=_check_ccs_subset,
        score_options=('cutoff_score',))
def ccs(scores, labels, size, seed, num_strata, hard_cutoff, cutoff_score):
  """Coverage-centric: the hardest β cut, then strata of the score sampled evenly."""
  del labels
  return pruning.coverage_centric(scores, size, seed=seed, num_strata=num_strata,
                                  hard_cutoff=hard_cutoff, cutoff_scores=cutoff_score)


# per_seed: a fresh subset for every retraining seed, as the authors' code draws (one subset
# retrained by every seed understates the random baseline's spread).
@method('random', uses_scores=False, defaults=dict(per_seed=True),
        check_options=lambda options: _check_bool('random', 'per_seed', options['per_seed']))
def random(scores, labels, size, seed, per_seed):
  """``size`` examples drawn uniformly with ``seed`` (``per_seed`` decides that seed)."""
  del scores, per_seed
  return pruning.random_subset(len(labels), size, seed)
