"""A dataset's examples: found by id, fingerprinted so that a changed dataset is noticed."""

import numpy as np
import pytest

from datadiet.data import dataset, sources


def test_positions_of_ids():
  data = sources.load('digits')
  ids = data.train['id'][[5, 2, 9]]
  np.testing.assert_array_equal(dataset.positions_of(data.train, ids), [5, 2, 9])
  with pytest.raises(ValueError, match='1 ids are not in the split'):
    dataset.positions_of(data.train, [data.test['id'][0]])
  with pytest.raises(ValueError, match='duplicates'):
    dataset.positions_of(data.train, [ids[0], ids[0]])


def test_fingerprint_changes_with_one_label_and_only_then():
  data = sources.load('digits')
  first = dataset.fingerprint(data)
  assert first == dataset.fingerprint(data) and first['train_examples'] == len(data.train['id'])
  train = dict(data.train, label=data.train['label'].copy())
  train['label'][7] = (train['label'][7] + 1) % 10
  changed = dataset.fingerprint(dataset.Dataset(data.name, train, data.test, data.num_classes))
  assert changed['sha256'] != first['sha256'] and changed['name'] == first['name']


def test_sorted_by_id_and_read_only():
  split = dataset.sorted_by_id({'id': np.array(['b', 'c', 'a']), 'label': np.array([1, 2, 0])})
  assert split['id'].tolist() == ['a', 'b', 'c'] and split['label'].tolist() == [0, 1, 2]
  data = dataset.read_only(dataset.Dataset('x', split, dict(split), num_classes=3))
  with pytest.raises(ValueError, match='read-only'):
    data.train['label'][0] = 5
