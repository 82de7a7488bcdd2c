"""Scores and keep-lists in the dataset's own order; the function form of the pruning methods."""

import csv

import numpy as np
import pytest

import datadiet
from datadiet import errors, interop, pruning, score_files


def _tfds_id(shard, index):
  return f'cifar10-train.array_record-{shard:05d}-of-00002__{index}'


def test_dataset_order_of_every_id_kind():
  np.testing.assert_array_equal(interop.dataset_order(np.array([5, 0, 3])), [1, 2, 0])
  # TFDS: by shard, then by the index within it, numerically (as strings, __10 < __2).
  ids = np.array([_tfds_id(1, 0), _tfds_id(0, 10), _tfds_id(0, 2), _tfds_id(0, 0)])
  assert ids[interop.dataset_order(ids)].tolist() == [
      _tfds_id(0, 0), _tfds_id(0, 2), _tfds_id(0, 10), _tfds_id(1, 0)]
  paths = np.array(['dog/1.png', 'cat/2.png', 'cat/10.png'])
  assert paths[interop.dataset_order(paths)].tolist() == ['cat/10.png', 'cat/2.png', 'dog/1.png']


def test_exported_scores_are_positional_and_import_back(tmp_path):
  ids = np.array([_tfds_id(0, i) for i in (7, 0, 11, 3)])  # Held in id (string) order.
  per_seed = np.array([[0.7, 0.0, 1.1, 0.3], [0.9, 0.2, 1.3, 0.5]], np.float32)
  path = tmp_path / 'el2n@10.npz'
  score_files.save_scores(path, ids, per_seed, score='el2n', dataset='cifar10', model='resnet18',
                          step=10, seeds=[0, 1])
  interop.export_scores(path, tmp_path / 'el2n')
  positional = np.load(tmp_path / 'el2n.npy')
  np.testing.assert_allclose(positional, [0.1, 0.4, 0.8, 1.2])  # Indices 0, 3, 7, 11.
  np.testing.assert_array_equal(positional, interop.positional_scores(path))
  with open(tmp_path / 'el2n.csv') as f:
    rows = list(csv.DictReader(f))
  assert [r['id'] for r in rows] == [_tfds_id(0, i) for i in (0, 3, 7, 11)]
  assert [int(r['position']) for r in rows] == [0, 1, 2, 3]
  back = interop.import_positional(tmp_path / 'el2n.npy', ids, dataset='cifar10',
                                   expected_dataset='cifar10')
  assert back == pytest.approx({_tfds_id(0, 7): 0.8, _tfds_id(0, 0): 0.1, _tfds_id(0, 11): 1.2,
                                _tfds_id(0, 3): 0.4})


def test_importing_a_file_of_another_dataset_or_length_is_refused(tmp_path):
  np.save(tmp_path / 's.npy', np.arange(3, dtype=np.float32))
  with pytest.raises(errors.InputError, match=r"holds scores of 'cifar100', not of 'cifar10'"):
    interop.import_positional(tmp_path / 's.npy', np.arange(3), dataset='cifar100',
                              expected_dataset='cifar10')
  with pytest.raises(errors.InputError, match=r'holds \(3,\) scores but the split has 4 '
                                              r'examples'):
    interop.import_positional(tmp_path / 's.npy', np.arange(4), dataset='digits',
                              expected_dataset='digits')


def test_keep_list_positions_in_dataset_order(tmp_path):
  ids = np.array(['dog/1.png', 'cat/2.png', 'cat/10.png', 'ant/3.png'])
  positions = interop.export_keep_list(ids, tmp_path / 'keep',
                                       kept_ids=['dog/1.png', 'cat/10.png'])
  np.testing.assert_array_equal(positions, [1, 3])  # ant/3, cat/10, cat/2, dog/1.
  np.testing.assert_array_equal(np.load(tmp_path / 'keep.npy'), [1, 3])
  assert (tmp_path / 'keep.csv').read_text().splitlines() == [
      'position,id', '1,cat/10.png', '3,dog/1.png']
  # The same subset by position (what datadiet.select returns), in either order.
  np.testing.assert_array_equal(
      interop.export_keep_list(ids, tmp_path / 'again', kept_positions=np.array([3, 1])), [1, 3])
  assert (tmp_path / 'again.csv').read_text() == (tmp_path / 'keep.csv').read_text()
  with pytest.raises(errors.InputError, match='1 kept ids are not in the split'):
    interop.export_keep_list(ids, tmp_path / 'bad', kept_ids=['fox/1.png'])
  with pytest.raises(errors.InputError, match=r'exactly one of kept_positions= .* or kept_ids='):
    interop.export_keep_list(ids, tmp_path / 'bad', kept_ids=['dog/1.png'], kept_positions=[0])
  with pytest.raises(errors.InputError, match=r'kept_positions must be integer positions in '
                                              r'\[0, 4\) .* for example ids pass kept_ids='):
    interop.export_keep_list(ids, tmp_path / 'bad', kept_positions=['dog/1.png'])
  with pytest.raises(errors.InputError, match=r'range \[2, 4\]'):
    interop.export_keep_list(ids, tmp_path / 'bad', kept_positions=[2, 4])
  with pytest.raises(errors.InputError, match='repeats an example'):
    interop.export_keep_list(ids, tmp_path / 'bad', kept_positions=[1, 1])


def test_select_is_each_method_as_a_run_applies_it():
  rng = np.random.default_rng(0)
  scores, labels = rng.random(40), rng.integers(0, 3, 40)
  np.testing.assert_array_equal(datadiet.select(scores, 0.75, 'keep_hardest'),
                                pruning.keep_hardest(scores, 10))
  np.testing.assert_array_equal(datadiet.select(scores, 0.75, 'offset', fraction=0.1),
                                pruning.keep_hardest(scores, 10, offset=4))
  np.testing.assert_array_equal(
      datadiet.select(scores, 0.75, 'class_balanced', labels=labels),
      pruning.class_balanced(pruning.keep_hardest, scores, labels, 10))
  np.testing.assert_array_equal(datadiet.select(scores, 0.75, 'random', seed=3),
                                pruning.random_subset(40, 10, 3))
  ids = np.arange(100, 140)
  np.testing.assert_array_equal(datadiet.select(scores, 0.75, ids=ids),
                                ids[pruning.keep_hardest(scores, 10)])
  with pytest.raises(errors.InputError, match='takes no option fractoin; its options: fraction'):
    datadiet.select(scores, 0.5, 'offset', fractoin=0.1)
  with pytest.raises(errors.InputError, match='class_balanced needs the labels'):
    datadiet.select(scores, 0.5, 'class_balanced')
  with pytest.raises(errors.InputError, match=r'dropping|skipping the 24 hardest'):
    datadiet.select(scores, 0.5, 'offset', fraction=0.6)
  with pytest.raises(errors.InputError, match=r"Unknown pruning methods \['easiest'\]"):
    datadiet.select(scores, 0.5, 'easiest')


def test_class_folders_order_by_class_then_file():
  paths = np.array(['cat/x.png', 'cat-2/a.png', 'cat/a.png'])
  assert paths[interop.dataset_order(paths)].tolist() == ['cat/a.png', 'cat/x.png',
                                                           'cat-2/a.png']


def test_the_authors_order_is_the_class_sorted_dataset_order(tmp_path):
  """The authors' loaders sort the training set by class (np.argsort of the labels, in TFDS
  order); their positional files follow that order."""
  ids = np.array([_tfds_id(0, i) for i in range(6)])
  labels = np.array([2, 0, 1, 0, 2, 1])
  order = interop.order_of(ids, 'authors', labels)
  assert labels[order].tolist() == [0, 0, 1, 1, 2, 2]
  np.testing.assert_array_equal(order, np.argsort(labels))  # Their own computation.
  np.save(tmp_path / 'theirs.npy', np.arange(6, dtype=np.float32))  # Position = value.
  mine = interop.import_positional(tmp_path / 'theirs.npy', ids[::-1], dataset='cifar10',
                                   expected_dataset='cifar10', order='authors',
                                   labels=labels[::-1])
  assert [mine[_tfds_id(0, i)] for i in np.argsort(labels)] == [0, 1, 2, 3, 4, 5]
  with pytest.raises(errors.InputError, match="order='authors' needs the labels"):
    interop.order_of(ids, 'authors')
  with pytest.raises(errors.InputError, match="Unknown order 'class'"):
    interop.order_of(ids, 'class')


def test_select_takes_a_cutoff_score_as_an_array():
  rng = np.random.default_rng(1)
  scores, aum = rng.random(100), rng.random(100)
  np.testing.assert_array_equal(
      datadiet.select(scores, 0.8, 'ccs', cutoff_score=aum.tolist(), hard_cutoff=0.1,
                      num_strata=5),
      pruning.coverage_centric(scores, 20, seed=0, num_strata=5, hard_cutoff=0.1,
                               cutoff_scores=aum))
  with pytest.raises(errors.InputError, match="give cutoff_score as an array of scores"):
    datadiet.select(scores, 0.8, 'ccs', cutoff_score='aum')
  with pytest.raises(errors.InputError, match=r'kept_ids must be one subset \(1-D\)'):
    interop.export_keep_list(np.arange(4), '/nonexistent/keep',
                             kept_ids=np.array([[0, 1], [2, 3]]))


def test_api_mistakes_are_one_clear_error(tmp_path):
  np.save(tmp_path / 'scores.npy', np.zeros(3, np.float32))
  with pytest.raises(errors.InputError, match=r'is not a score file \(.npz keyed by id\)'):
    interop.positional_scores(tmp_path / 'scores.npy')
  ids = np.array([_tfds_id(0, i) for i in range(4)])
  path = tmp_path / 'el2n@10.npz'
  score_files.save_scores(path, ids, np.arange(4, dtype=np.float32), score='el2n',
                          dataset='cifar10', model='resnet18', step=10, seeds=[0])
  other_split = {'id': np.array(['x', 'y', 'z', 'w']), 'label': np.zeros(4, int)}
  with pytest.raises(errors.InputError, match='4 ids of the score file are not in the split'):
    interop.positional_scores(path, order='authors', split=other_split)
  with pytest.raises(errors.InputError, match='10 ids for 40 scores'):
    datadiet.select(np.arange(40.0), 0.5, ids=np.arange(10))
  with pytest.raises(errors.InputError, match=r"fraction_pruned must be a number in \[0, 1\), "
                                              r"got '0.5'"):
    datadiet.select(np.arange(40.0), '0.5')
  with pytest.raises(errors.InputError, match='3 labels for 4 ids'):
    interop.order_of(ids, 'authors', np.zeros(3))
