"""Score files: saved by id, aligned by id on load, refused on any mismatch, written atomically."""

import re

import numpy as np
import pytest

from datadiet import score_files
from datadiet.score_files import ScoreFileError, load_scores, save_scores

META = dict(score='el2n', dataset='digits', model='mlp', step=100, seeds=[0, 1])


def _save(path, ids=('b.jpg', 'a.jpg', 'c.jpg'), per_seed=((1., 2., 3.), (3., 4., 5.))):
  return save_scores(path, list(ids), np.array(per_seed), **META)


def test_round_trip_aligns_to_requested_order(tmp_path):
  _save(tmp_path / 's.npz')
  assert (tmp_path / 's.npz').stat().st_mode & 0o777 == 0o644
  loaded = load_scores(tmp_path / 's.npz', ids=['a.jpg', 'c.jpg', 'b.jpg'], dataset='digits',
                       score='el2n')
  np.testing.assert_array_equal(loaded.score, [3., 4., 2.])
  np.testing.assert_array_equal(loaded.per_seed, [[2., 3., 1.], [4., 5., 3.]])
  assert loaded.metadata == META


@pytest.mark.parametrize('ids,message', [
    (['a.jpg', 'b.jpg'], r'1 scored ids are not in it'),
    (['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'], r'1 of its 4 examples have no score'),
    (['a.jpg', 'b.jpg', 'b.jpg'], 'more than once'),
    ([0, 1, 2], 'ids of type'),
])
def test_mismatched_ids_are_refused(tmp_path, ids, message):
  _save(tmp_path / 's.npz')
  with pytest.raises(ScoreFileError, match=message):
    load_scores(tmp_path / 's.npz', ids=ids)


def test_wrong_dataset_or_score_or_file(tmp_path):
  _save(tmp_path / 's.npz')
  with pytest.raises(ScoreFileError, match="dataset 'digits', not 'cifar10'"):
    load_scores(tmp_path / 's.npz', dataset='cifar10')
  with pytest.raises(ScoreFileError, match="score 'el2n', not 'grand'"):
    load_scores(tmp_path / 's.npz', score='grand')
  for key, other in (('step', 7), ('model', 'resnet18'), ('seeds', [0, 1, 2])):
    with pytest.raises(ScoreFileError, match=re.escape(f'for {key} {META[key]!r}, not {other!r}')):
      load_scores(tmp_path / 's.npz', **{key: other})
  assert load_scores(tmp_path / 's.npz', **{k: META[k] for k in ('step', 'model', 'seeds')})
  with pytest.raises(FileNotFoundError, match='No score file'):
    load_scores(tmp_path / 'missing.npz')
  (tmp_path / 'junk.npz').write_bytes(b'not a zip')
  with pytest.raises(ScoreFileError, match='not a valid score file'):
    load_scores(tmp_path / 'junk.npz')


def test_duplicate_ids_or_bad_shapes_are_not_saved(tmp_path):
  with pytest.raises(ScoreFileError, match='more than once'):
    _save(tmp_path / 's.npz', ids=('a', 'a', 'b'))
  with pytest.raises(ScoreFileError, match='per_seed must be'):
    _save(tmp_path / 's.npz', per_seed=((1., 2.),))
  with pytest.raises(ScoreFileError, match='not finite'):
    _save(tmp_path / 's.npz', per_seed=((1., np.nan, 2.),))
  assert not (tmp_path / 's.npz').exists()


def test_crash_while_writing_keeps_the_old_file(tmp_path, monkeypatch):
  _save(tmp_path / 's.npz')
  before = (tmp_path / 's.npz').read_bytes()

  def crash(file, **arrays):
    file.write(b'half a file')
    raise KeyboardInterrupt

  monkeypatch.setattr(score_files.np, 'savez', crash)
  with pytest.raises(KeyboardInterrupt):
    _save(tmp_path / 's.npz', per_seed=((9., 9., 9.),))
  assert (tmp_path / 's.npz').read_bytes() == before
  assert [p.name for p in tmp_path.iterdir()] == ['s.npz']  # No temporary file left behind.
