"""Result files are written whole or not at all, and rewriting the same bytes touches nothing."""

import errno
import json
import os

import numpy as np
import pytest

from datadiet import atomic_files, errors


def test_formats_round_trip(tmp_path):
  atomic_files.write_text(tmp_path / 'a' / 'note.md', 'hello\n')
  atomic_files.write_json(tmp_path / 'value.json', {'b': 1, 'a': [1.5]})
  atomic_files.write_npz(tmp_path / 'arrays.npz', ids=np.arange(3), score=np.ones(3))
  assert (tmp_path / 'a' / 'note.md').read_text() == 'hello\n'
  assert json.loads((tmp_path / 'value.json').read_text()) == {'a': [1.5], 'b': 1}
  with np.load(tmp_path / 'arrays.npz') as saved:
    np.testing.assert_array_equal(saved['ids'], np.arange(3))
  assert sorted(p.name for p in tmp_path.rglob('*')) == ['a', 'arrays.npz', 'note.md',
                                                        'value.json']  # No temporaries left.


def test_same_bytes_leave_the_file_untouched(tmp_path):
  path = tmp_path / 'result.json'
  atomic_files.write_json(path, {'accuracy': 0.9})
  os.utime(path, ns=(1, 1))
  atomic_files.write_json(path, {'accuracy': 0.9})
  assert path.stat().st_mtime_ns == 1
  atomic_files.write_json(path, {'accuracy': 0.8})
  assert json.loads(path.read_text()) == {'accuracy': 0.8}


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
  path = tmp_path / 'scores.txt'
  atomic_files.write_text(path, 'old')

  def half_then_fail(tmp):
    tmp.write_text('ne')
    raise RuntimeError('killed')

  with pytest.raises(RuntimeError, match='killed'):
    atomic_files.commit(path, half_then_fail)
  assert path.read_text() == 'old' and [p.name for p in tmp_path.iterdir()] == ['scores.txt']


def test_full_disk_is_one_clear_error(tmp_path):
  def no_space(tmp):
    raise OSError(errno.ENOSPC, 'No space left on device')

  with pytest.raises(errors.DiskFullError, match=r'Could not write .*x.npz: No space left on '
                                                 r'device. The results finished before it are '
                                                 r'intact'):
    atomic_files.commit(tmp_path / 'x.npz', no_space)
