"""A validation split held out of the training set, for analyses that choose a setting.

A setting picked by test accuracy (an offset, a CCS cutoff β) would report an optimistic test
number; the analyses that choose one retrain on a pool of the training set and choose on the
held-out rest, which the retrained models never see.
"""

from __future__ import annotations

import numpy as np

from datadiet import errors


def check_fraction(field: str, fraction: float, num_examples: int) -> None:
  """Raises an InputError naming ``field`` unless ``fraction`` is in (0, 1) and leaves at least
  one of ``num_examples`` on each side of the split."""
  if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
      or not 0.0 < fraction < 1.0):
    raise errors.InputError(f'{field} must be in (0, 1), got {fraction!r}.')
  held_out = size(num_examples, fraction)
  if not 0 < held_out < num_examples:
    raise errors.InputError(
        f'{field} {fraction:g} holds out {held_out} of the {num_examples} training examples; '
        f'give a fraction that holds out at least one and keeps at least one (e.g. 0.1).')


def size(num_examples: int, fraction: float) -> int:
  """How many examples a split of ``fraction`` holds out."""
  return int(round(fraction * num_examples))


def pool_size(num_examples: int, fraction: float) -> int:
  """How many examples remain outside a split of ``fraction``."""
  return num_examples - size(num_examples, fraction)


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


def best_by_validation(rows: list[dict], setting: str) -> dict:
  """Of the values of ``setting`` in ``rows`` (one row per value × retraining seed): the one
  with the best mean validation accuracy (the choice; ties go to the smaller value) and the one
  with the best mean test accuracy (what peeking at the test set would pick), with those means."""
  values = sorted({r[setting] for r in rows})

  def mean(key, value):
    return float(np.mean([r[key] for r in rows if r[setting] == value]))

  chosen = max(values, key=lambda v: (mean('validation_accuracy', v), -v))
  peeked = max(values, key=lambda v: (mean('test_accuracy', v), -v))
  return dict(chosen=chosen, chosen_validation_accuracy=mean('validation_accuracy', chosen),
              chosen_test_accuracy=mean('test_accuracy', chosen), test_best=peeked,
              test_best_accuracy=mean('test_accuracy', peeked),
              first_test_accuracy=mean('test_accuracy', values[0]))
