"""Label noise: a fraction of training labels replaced by a *different* random class.

Unlike the reference code, which permutes labels among the chosen examples (so about 1/C of them
keep their true label), every chosen example here gets a label that differs from its true one:
the corrupted fraction is exactly the requested one. The corruption is drawn from its own seed
and returned as a mask, to be saved next to the run.
"""

from __future__ import annotations

from pathlib import Path

import ml_collections
import numpy as np

from datadiet import atomic_files, errors
from datadiet.data.dataset import Dataset

RECORD = 'label_noise.npz'


def check_fraction(fraction: float) -> None:
  """Raises an InputError unless ``0 <= fraction < 1`` (all labels noisy leaves no signal)."""
  if not 0.0 <= fraction < 1.0:
    raise errors.InputError(f'label_noise_fraction must be in [0, 1), got {fraction}.')


def corrupt_labels(labels: np.ndarray, fraction: float, num_classes: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Returns ``(noisy_labels, is_noisy)``; exactly ``round(fraction × N)`` labels change."""
  check_fraction(fraction)
  if num_classes < 2:
    raise errors.InputError(f'Label noise needs at least 2 classes, got {num_classes}.')
  rng = np.random.default_rng(seed)
  num_noisy = int(round(fraction * len(labels)))
  chosen = rng.choice(len(labels), size=num_noisy, replace=False)
  is_noisy = np.zeros(len(labels), bool)
  is_noisy[chosen] = True
  noisy = labels.astype(np.int32).copy()
  # A shift of 1..C-1 classes always lands on a different class, uniformly.
  noisy[chosen] = (noisy[chosen] + rng.integers(1, num_classes, size=num_noisy)) % num_classes
  return noisy, is_noisy


def training_labels(config: ml_collections.ConfigDict, data: Dataset,
                    workdir: Path | None) -> tuple[np.ndarray, np.ndarray]:
  """``(training labels, is_noisy)`` of a run: ``config.data``'s label noise applied to
  ``data.train`` (none: the labels as they are). Noisy labels are recorded by id in
  ``<workdir>/label_noise.npz`` (with the true ones) unless ``workdir`` is None (planning)."""
  labels = data.train['label']
  fraction = config.data.label_noise_fraction
  if not fraction:
    return labels, np.zeros(len(labels), bool)
  noisy, is_noisy = corrupt_labels(labels, fraction, data.num_classes,
                                   config.data.label_noise_seed)
  if workdir is not None and not (Path(workdir) / RECORD).exists():
    atomic_files.write_npz(Path(workdir) / RECORD, ids=data.train['id'], noisy_label=noisy,
                           is_noisy=is_noisy, true_label=labels)
  return noisy, is_noisy
