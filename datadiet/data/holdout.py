"""A validation split held out of the training set, for analyses that choose a setting.

A setting picked by test accuracy (an offset, a CCS cutoff β) would report an optimistic test
number; the analyses that choose one retrain on a pool of the training set and choose on the
held-out rest, which the retrained models never see.
"""

from __future__ import annotations

import numpy as np

from datadiet import errors


def check_fraction(field: str, fraction: float) -> None:
  """Raises an InputError naming ``field`` unless ``fraction`` is in (0, 1)."""
  if not 0.0 < fraction < 1.0:
    raise errors.InputError(f'{field} must be in (0, 1), got {fraction}.')


def size(num_examples: int, fraction: float) -> int:
  """How many examples a split of ``fraction`` holds out."""
  return int(round(fraction * num_examples))


def split(num_examples: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """``(pool, validation)``: sorted positions into the training split, disjoint, the
  validation split ``fraction`` of them drawn by ``seed``."""
  rng = np.random.default_rng(seed)
  validation = np.sort(rng.permutation(num_examples)[:size(num_examples, fraction)])
  return np.setdiff1d(np.arange(num_examples), validation), validation


def examples(train: dict[str, np.ndarray], labels: np.ndarray,
             positions: np.ndarray) -> dict[str, np.ndarray]:
  """The evaluation split of ``positions``: their images (or stream locations) and ``labels``
  (the run's training labels, noisy where the run's are, as held-out data would be)."""
  split_arrays = {key: train[key][positions] for key in ('image', 'location') if key in train}
  split_arrays['label'] = labels[positions]
  return split_arrays
