"""The scoring demo end to end on the offline digits dataset, asserting on its files."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from configs import default
from datadiet import jobs, score_demo
from datadiet.data import pipeline, sources
from datadiet.score_files import load_scores

ROOT = Path(__file__).resolve().parents[1]


def _tiny_config():
  config = default.get_config()
  config.seeds = (0, 1)
  config.budget = 30
  return config


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('demo')
  report = jobs.run(_tiny_config(), workdir)
  assert 'Spearman vs EL2N' in report
  return workdir, json.loads((workdir / 'summary.json').read_text())


def test_score_files_are_keyed_by_id_and_consistent(finished_run):
  workdir, summary = finished_run
  data = sources.load('digits')
  for name in score_demo.SCORES:
    scores = load_scores(workdir / 'scores' / f'{name}.npz', ids=data.train['id'][::-1],
                         dataset='digits', score=name)
    assert scores.per_seed.shape == (2, len(data.train['id']))
    np.testing.assert_allclose(scores.score, scores.per_seed.mean(0), rtol=1e-6)
  assert all(0.5 < a <= 1 for a in summary['test_accuracy_per_seed'])  # Chance is 0.1.
  assert summary['spearman_vs_el2n']['loss'] > 0.9
  assert abs(summary['spearman_vs_el2n']['random']) < 0.15


def test_seeds_differ_and_input_norm_is_exact(finished_run):
  workdir, _ = finished_run
  data = sources.load('digits')
  grand = load_scores(workdir / 'scores' / 'grand.npz', ids=data.train['id'])
  assert not np.allclose(grand.per_seed[0], grand.per_seed[1])
  norms = load_scores(workdir / 'scores' / 'input_norm.npz', ids=data.train['id'])
  images = pipeline.normalize(data.train['image'], pipeline.channel_stats(data.train['image']))
  want = np.linalg.norm(images.reshape(len(data.train['id']), -1), axis=1)
  np.testing.assert_allclose(norms.per_seed[0], want, rtol=1e-5)


def test_rerun_reuses_scores_and_other_config_is_refused(finished_run):
  workdir, _ = finished_run
  before = (workdir / 'scores' / 'el2n.npz').read_bytes()
  jobs.run(_tiny_config(), workdir)
  summary = json.loads((workdir / 'summary.json').read_text())
  assert summary['test_accuracy_per_seed'] is None  # Scores were loaded, not recomputed.
  other = _tiny_config()
  other.seeds = (0, 1, 2)
  with pytest.raises(ValueError, match=r"different config \(differs in \['seeds'\]\)"):
    jobs.run(other, workdir)
  assert (workdir / 'scores' / 'el2n.npz').read_bytes() == before


def test_unknown_score_is_refused(tmp_path):
  config = _tiny_config()
  config.scores = ('el2n', 'grnd')
  with pytest.raises(ValueError, match=r"Unknown scores \['grnd'\]; valid scores: el2n"):
    score_demo.run(config, tmp_path)


def test_launch_rejects_a_typo_in_an_override(tmp_path):
  result = subprocess.run(
      [sys.executable, 'launch.py', '--config', 'configs/default.py', '--workdir',
       str(tmp_path), '--config.num_seeds=3'], cwd=ROOT, capture_output=True, text=True)
  assert result.returncode != 0
  assert 'num_seeds' in result.stderr
  assert not (tmp_path / 'scores').exists()
