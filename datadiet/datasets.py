"""In-memory datasets with stable example ids.

So far one dataset: ``digits``, scikit-learn's 1,797 handwritten digits (8×8 grey images, 10
classes), which ships inside the installed package and therefore works offline. Every example
keeps its index in that release as its id, so scores and subsets stay matched to examples
whatever the split or order.

Example::

  data = datadiet.datasets.load('digits')
  data.train['image'].shape, data.train['id'][:3], data.num_classes
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ArrayDataset:
  """Train and test splits as dicts of arrays with keys ``image``, ``label`` and ``id``."""
  name: str
  train: dict[str, np.ndarray]
  test: dict[str, np.ndarray]
  num_classes: int


def _digits(test_fraction: float = 0.2, split_seed: int = 0) -> ArrayDataset:
  from sklearn.datasets import load_digits  # Only this loader needs scikit-learn.
  digits = load_digits()
  images = (digits.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1) in [0, 1].
  labels = digits.target.astype(np.int32)
  ids = np.arange(len(labels), dtype=np.int64)
  order = np.random.default_rng(split_seed).permutation(len(labels))
  num_test = int(round(test_fraction * len(labels)))
  split = lambda idx: {'image': images[idx], 'label': labels[idx], 'id': ids[idx]}
  return ArrayDataset('digits', split(np.sort(order[num_test:])), split(np.sort(order[:num_test])),
                      num_classes=10)


DATASETS = {'digits': _digits}


def load(name: str) -> ArrayDataset:
  """Loads the dataset registered as ``name``."""
  if name not in DATASETS:
    raise ValueError(f'Unknown dataset {name!r}; valid datasets: {", ".join(DATASETS)}.')
  return DATASETS[name]()
