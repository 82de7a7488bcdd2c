"""Choosing the subset to keep from per-example scores (higher = harder).

Every selector returns sorted *positions* into the score array (map them to example ids with
``ids[positions]``) and keeps exactly ``keep_size`` examples:

* :func:`keep_hardest` — the ``keep_size`` highest scores after dropping the ``offset`` very
  hardest (the paper's offset band; ``offset=0`` is plain keep-hardest). Ties break by position,
  so the result is deterministic.
* :func:`random_subset` — uniform, from a seed (the control).
* :func:`class_balanced` — any selector applied within each class, with per-class quotas
  proportional to the class sizes (largest remainders).
* :func:`coverage_centric` — CCS (Zheng et al., ICLR 2023): drop the hardest ``hard_cutoff``
  fraction, split the score range into equal-width strata and spread the budget evenly over
  them, sampling at random within each.

Example::

  size = keep_size(len(scores), fraction_pruned=0.5)
  kept_ids = ids[keep_hardest(scores, size, offset=500)]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from datadiet import errors

Selector = Callable[[np.ndarray, int], np.ndarray]


def keep_size(num_examples: int, fraction_pruned: float) -> int:
  """How many examples remain after pruning ``fraction_pruned`` of ``num_examples``."""
  if (isinstance(fraction_pruned, bool) or not isinstance(fraction_pruned, (int, float))
      or not 0.0 <= fraction_pruned < 1.0):
    raise errors.InputError(f'fraction_pruned must be a number in [0, 1), got '
                            f'{fraction_pruned!r}.')
  size = int(round((1.0 - fraction_pruned) * num_examples))
  if size < 1:
    raise errors.InputError(f'Pruning {fraction_pruned:.4g} of {num_examples} examples keeps none.')
  return size


def _checked_scores(scores, what: str) -> np.ndarray:
  """One finite score per example, or one clear error (NaN would sort as easiest or hardest
  depending on the method, silently)."""
  scores = np.asarray(scores)
  if scores.ndim != 1:
    raise errors.InputError(
        f'{what}: scores must be 1-D, one per example, got shape {scores.shape}; for per-seed '
        'scores (seeds, examples) pass their mean over seeds, scores.mean(axis=0).')
  if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(scores.dtype, np.complexfloating):
    raise errors.InputError(f'{what}: scores must be real numbers, got dtype {scores.dtype}.')
  finite = np.isfinite(scores)
  if not finite.all():
    position = int(np.flatnonzero(~finite)[0])
    raise errors.InputError(
        f'{what}: {int((~finite).sum())} of {len(scores)} scores are NaN or infinite (the first, '
        f'{scores[position]}, at position {position}); recompute them, or drop those examples '
        'before selecting.')
  return scores


def _check(num_examples: int, size: int, offset: int = 0) -> None:
  if size < 1:
    raise errors.InputError(f'Cannot keep {size} examples: the subset would be empty.')
  if offset < 0:
    raise errors.InputError(f'offset must be >= 0, got {offset}.')
  if offset + size > num_examples:
    raise errors.InputError(f'offset {offset} + size {size} exceeds the {num_examples} examples.')


def keep_hardest(scores: np.ndarray, size: int, offset: int = 0) -> np.ndarray:
  """Positions of the ``size`` hardest examples once the ``offset`` hardest are dropped."""
  scores = _checked_scores(scores, 'keep_hardest')
  _check(len(scores), size, offset)
  # Stable sort on the negated score: equal scores keep position order.
  hardest_first = np.argsort(-scores, kind='stable')
  return np.sort(hardest_first[offset:offset + size])


def random_subset(num_examples: int, size: int, seed: int) -> np.ndarray:
  """``size`` positions drawn uniformly without replacement from ``seed``."""
  _check(num_examples, size)
  return np.sort(np.random.default_rng(seed).choice(num_examples, size, replace=False))


def class_quotas(labels: np.ndarray, size: int) -> dict[int, int]:
  """Per-class counts proportional to class sizes, summing to ``size`` (largest remainders)."""
  classes, counts = np.unique(labels, return_counts=True)
  exact = counts * size / counts.sum()
  quotas = np.floor(exact).astype(int)
  for i in np.argsort(-(exact - quotas), kind='stable')[:size - quotas.sum()]:
    quotas[i] += 1
  return {int(c): int(q) for c, q in zip(classes, quotas)}


def class_balanced(select: Selector, scores: np.ndarray, labels: np.ndarray,
                   size: int) -> np.ndarray:
  """Applies ``select(class_scores, quota)`` within each class; returns global positions."""
  scores, labels = _checked_scores(scores, 'class_balanced'), np.asarray(labels)
  if labels.shape != scores.shape:
    raise errors.InputError(
        f'class_balanced: labels must have one entry per score, shape {scores.shape}, got '
        f'{labels.shape}.')
  _check(len(scores), size)
  kept = []
  for label, quota in class_quotas(labels, size).items():
    members = np.flatnonzero(labels == label)
    if quota:
      kept.append(members[select(scores[members], quota)])
  return np.sort(np.concatenate(kept))


def coverage_centric(scores: np.ndarray, size: int, seed: int, num_strata: int = 50,
                     hard_cutoff: float = 0.0,
                     cutoff_scores: np.ndarray | None = None) -> np.ndarray:
  """CCS: stratified sampling over the score range after dropping the hardest ``hard_cutoff``.

  The hardest are those of ``cutoff_scores`` when given (as published, Zheng et al. 2023, the
  cutoff is taken by AUM whatever score is stratified), else of ``scores``.

  Strata are equal-width score bins. The budget goes to strata from the smallest up, each taking
  ``min(its size, remaining budget / remaining strata)``, so sparse (often hard) regions are kept
  whole and dense (easy) regions are thinned.
  """
  scores = _checked_scores(scores, 'coverage_centric').astype(np.float64)
  cutoff_scores = scores if cutoff_scores is None else _checked_scores(
      cutoff_scores, 'coverage_centric (cutoff scores)').astype(np.float64)
  if cutoff_scores.shape != scores.shape:
    raise errors.InputError(f'coverage_centric: cutoff scores {cutoff_scores.shape} and scores '
                            f'{scores.shape} differ in shape.')
  num_dropped = int(round(hard_cutoff * len(scores)))
  _check(len(scores), size, num_dropped)
  if num_strata < 1:
    raise errors.InputError(f'num_strata must be >= 1, got {num_strata}.')
  candidates = np.sort(np.argsort(-cutoff_scores, kind='stable')[num_dropped:])
  values = scores[candidates]
  edges = np.linspace(values.min(), values.max(), num_strata + 1)
  stratum = np.clip(np.searchsorted(edges, values, side='right') - 1, 0, num_strata - 1)
  members = [candidates[stratum == s] for s in range(num_strata)]
  rng = np.random.default_rng(seed)
  kept, budget = [], size
  remaining = [m for m in members if len(m)]
  remaining.sort(key=len)
  for i, group in enumerate(remaining):
    take = min(len(group), budget // (len(remaining) - i))
    kept.append(rng.choice(group, take, replace=False))
    budget -= take
  return np.sort(np.concatenate(kept))
