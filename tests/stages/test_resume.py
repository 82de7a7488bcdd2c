"""kill -9 inside each analysis, relaunch: the run ends with the results of an uninterrupted one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from datadiet import run_digest

ROOT = Path(__file__).resolve().parents[2]
# Mid clean sweep, mid noisy sweep (its own pretraining and scores done), after the CCS sweep's
# first subset, mid budget sweep (its first budget done), after the first spawn step's barrier,
# after the first clean Gram file.
KILL_WHEN = ['offset_sweep/*/offset-0.2/result.json',
             'label_noise_0.2/offset_sweep/*/offset-0/result.json',
             'ccs_cutoff_sweep/*/p0.3-beta0.0/result.json',
             'budget_sweep/*/1epochs/random-p0.3/result.json',
             'error_barrier/spawn_0/errors.json', 'ntk_velocity/gram@20-4x6-el2n.npz']


def _run_until(command, workdir, path, timeout=300):
  proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + timeout
  while not any(workdir.glob(path)):
    if proc.poll() is not None:
      return proc.returncode
    assert time.monotonic() < deadline, f'{path} never appeared'
    time.sleep(0.02)
  os.kill(proc.pid, signal.SIGKILL)
  return proc.wait()


def test_killed_in_every_analysis_finishes_with_the_same_results(dynamics_run, dynamics_flags,
                                                                  tmp_path):
  reference, _ = dynamics_run
  command = [sys.executable, 'launch.py', '--config', 'configs/default.py', '--workdir',
             str(tmp_path), *dynamics_flags]
  for path in KILL_WHEN:
    assert _run_until(command, tmp_path, path) == -signal.SIGKILL, f'the run ended before {path}'
  subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
  expected = run_digest.digest(reference)
  assert any(name.startswith('label_noise_0.2/ntk_velocity/') for name in expected)
  assert run_digest.digest(tmp_path) == expected
