"""A dataset in memory or on disk: its splits as arrays with a stable id for every example.

:class:`Dataset` is what every source returns (:mod:`datadiet.data.sources` picks the source by
name). :func:`fingerprint` identifies its examples for a workdir; :func:`positions_of` finds
examples by id.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np

from datadiet import errors

NAME_FORMS = ('digits', 'image_folder:<path>', '<any TFDS image-classification dataset>')


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Train and test splits as dicts of arrays with keys ``image``, ``label`` and ``id``."""
  name: str
  train: dict[str, np.ndarray]
  test: dict[str, np.ndarray]
  num_classes: int
  class_names: tuple[str, ...] = ()
  # Streamed datasets (:func:`datadiet.data.sources.index`): no ``image`` in the splits but
  # each example's ``location`` (a file path, or ``<split>:<record>`` of a TFDS ArrayRecord
  # dataset), how to read them (``reader``), and the shape every image is read at.
  reader: dict[str, Any] = dataclasses.field(default_factory=dict)
  image_shape: tuple[int, ...] = ()

  @property
  def streamed(self) -> bool:
    """Whether the images stay on disk (read by :mod:`datadiet.data.streaming`)."""
    return 'image' not in self.train


def sorted_by_id(split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """``split`` in the order of its ids (every source's order, so runs are reproducible)."""
  order = np.argsort(split['id'], kind='stable')
  return {key: value[order] for key, value in split.items()}


def read_only(data: Dataset) -> Dataset:
  """``data`` with every array read-only: a dataset loaded once per process is shared by all its
  callers, none of which may change another's data."""
  for split in (data.train, data.test):
    for array in split.values():
      array.setflags(write=False)
  return data


def fingerprint(data: Dataset) -> dict[str, Any]:
  """What identifies ``data``'s examples: its name, the size of each split and a SHA-256 of
  every id and label in order. A workdir keeps it, so that a relaunch notices a dataset that
  changed under its run (an image removed or added, labels moved between classes)."""
  digest = hashlib.sha256()
  for split in (data.train, data.test):
    digest.update(np.asarray(split['id']).astype(str).tobytes())
    digest.update(np.asarray(split['label'], np.int64).tobytes())
  return {'name': data.name, 'train_examples': int(len(data.train['id'])),
          'test_examples': int(len(data.test['id'])), 'sha256': digest.hexdigest()}


def positions_of(split: dict[str, np.ndarray], ids) -> np.ndarray:
  """Positions in ``split`` of the examples with ``ids``; unknown or repeated ids are errors."""
  ids = np.asarray(ids)
  position = {key: i for i, key in enumerate(split['id'].tolist())}
  unknown = [key for key in ids.tolist() if key not in position]
  if unknown:
    raise errors.InputError(f'{len(unknown)} ids are not in the split (e.g. {unknown[:5]}).')
  if len(set(ids.tolist())) != len(ids):
    raise errors.InputError('The ids to keep contain duplicates.')
  return np.array([position[key] for key in ids.tolist()], dtype=np.int64)
