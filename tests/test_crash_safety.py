"""kill -9 during every stage, then relaunch with the same command: the run finishes with the
results of an uninterrupted run, and nothing finished before a kill is rewritten."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datadiet import run_digest

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = ['--config.pretrain.seeds=(0,1)', '--config.optim.budget=40',
             '--config.scores.steps=(0,20)',
             "--config.scores.names=('el2n','grand','random')", "--config.prune.by=('el2n',)",
             "--config.prune.methods=('keep_hardest','ccs','random')",
             '--config.prune.fractions=(0.5,)', '--config.retrain.seeds=(100,)',
             '--config.runtime.checkpoint_every_steps=10', '--config.runtime.log_every_steps=10',
             '--config.runtime.tensorboard=False']
# Kill as soon as each of these appears: mid-pretraining (a checkpoint is saved, later ones are
# not), mid-scoring, mid-pruning, mid-retraining (one run finished, the next one going), and in
# the report.
KILL_WHEN = ['pretrain/checkpoints/10', 'scores/el2n@0.npz', 'subsets/ccs-el2n@20-p0.5.npz',
             'retrain/full/result.json', 'results.json']


def _command(workdir):
  return [sys.executable, 'launch.py', '--config', 'configs/default.py', '--workdir',
          str(workdir), *OVERRIDES]


def _run_until(workdir, path, timeout=300):
  """Launches the run and SIGKILLs it the moment ``workdir/path`` exists."""
  proc = subprocess.Popen(_command(workdir), cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + timeout
  while not (workdir / path).exists():
    if proc.poll() is not None:  # Finished (or failed) before the kill point.
      return proc.returncode
    assert time.monotonic() < deadline, f'{path} never appeared'
    time.sleep(0.02)
  os.kill(proc.pid, signal.SIGKILL)
  return proc.wait()


def _results_mtimes(workdir):
  return {name: (workdir / name).stat().st_mtime_ns for name in run_digest.digest(workdir)}


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('uninterrupted')
  subprocess.run(_command(workdir), cwd=ROOT, check=True, capture_output=True)
  return run_digest.digest(workdir)


def test_killed_in_every_stage_finishes_with_the_same_results(uninterrupted, tmp_path):
  finished_before = {}
  for path in KILL_WHEN:
    assert _run_until(tmp_path, path) == -signal.SIGKILL, f'the run ended before {path}'
    finished_before.update(_results_mtimes(tmp_path))
  subprocess.run(_command(tmp_path), cwd=ROOT, check=True, capture_output=True)
  assert run_digest.digest(tmp_path) == uninterrupted
  # Results finished before a kill were never rewritten by a relaunch.
  after = _results_mtimes(tmp_path)
  assert {name: after[name] for name in finished_before} == finished_before


def test_same_seeds_same_scores_other_seeds_other_scores(uninterrupted, tmp_path):
  scoring_only = ["--config.stages=('pretrain','score')"]
  for name, seeds in (('same', '(0,1)'), ('other', '(2,3)')):
    # A repeated tuple flag would append to the first one: replace the seeds instead.
    command = [f'--config.pretrain.seeds={seeds}'
               if arg.startswith('--config.pretrain.seeds=') else arg
               for arg in _command(tmp_path / name)]
    subprocess.run(command + scoring_only, cwd=ROOT, check=True, capture_output=True)
  same, other = run_digest.digest(tmp_path / 'same'), run_digest.digest(tmp_path / 'other')
  assert same == {k: v for k, v in uninterrupted.items() if k.startswith('scores/')}
  for name in ('scores/el2n@0.npz', 'scores/el2n@20.npz', 'scores/grand@20.npz'):
    assert other[name] != same[name], name
