"""Run digests: result contents, not containers or timings; interrupted writes are not results."""

import json

import numpy as np

from datadiet import run_digest


def _write_run(root, scores):
  (root / 'scores').mkdir(parents=True)
  np.savez(root / 'scores' / 'el2n@10.npz', score=np.asarray(scores, np.float32))
  (root / 'results.json').write_text(json.dumps({'b': 1, 'a': [0.5]}))
  (root / 'stages').mkdir()
  (root / 'stages' / 'score.done').write_text(json.dumps({'seconds': np.random.rand()}))


def test_same_contents_same_digest_whatever_the_containers(tmp_path):
  _write_run(tmp_path / 'one', [1, 2, 3])
  _write_run(tmp_path / 'two', [1, 2, 3])
  (tmp_path / 'two' / 'results.json').write_text('{"a": [0.5], "b": 1}')  # Other key order.
  one, two = run_digest.digest(tmp_path / 'one'), run_digest.digest(tmp_path / 'two')
  assert sorted(one) == ['results.json', 'scores/el2n@10.npz']  # Timings are not results.
  assert one == two
  _write_run(tmp_path / 'three', [1, 2, 4])
  assert run_digest.digest(tmp_path / 'three')['scores/el2n@10.npz'] != one['scores/el2n@10.npz']


def test_a_write_interrupted_by_a_kill_is_not_a_result(tmp_path):
  _write_run(tmp_path, [1, 2, 3])
  before = run_digest.digest(tmp_path)
  # atomic_files.commit's temporary, half written when the process was killed.
  (tmp_path / 'scores' / '.grand@0.npz.tmp.npz').write_bytes(b'PK\x03\x04 half a zip')
  assert run_digest.digest(tmp_path) == before
