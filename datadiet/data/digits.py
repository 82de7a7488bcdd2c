"""``digits``: scikit-learn's 1,797 handwritten digits (8×8 grey, 10 classes), shipped inside
the installed package, so it works offline; ids are each example's index in that release."""

from __future__ import annotations

import numpy as np

from datadiet.data.dataset import Dataset, sorted_by_id


def load(test_fraction: float = 0.2, split_seed: int = 0) -> Dataset:
  """The digits, a ``test_fraction`` of them (drawn with ``split_seed``) held out as the test
  split."""
  from sklearn.datasets import load_digits  # Only this loader needs scikit-learn.
  digits = load_digits()
  # 0..16 grey levels → uint8, like every other image source.
  images = np.round(digits.images * (255 / 16)).astype(np.uint8)[..., None]
  labels = digits.target.astype(np.int32)
  ids = np.arange(len(labels), dtype=np.int64)
  order = np.random.default_rng(split_seed).permutation(len(labels))
  num_test = int(round(test_fraction * len(labels)))
  split = lambda idx: sorted_by_id({'image': images[idx], 'label': labels[idx], 'id': ids[idx]})
  return Dataset('digits', split(order[num_test:]), split(order[:num_test]), num_classes=10,
                 class_names=tuple(str(d) for d in range(10)))
