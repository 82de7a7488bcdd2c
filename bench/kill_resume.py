"""Crash-safety benchmark: kill -9 a pipeline run at random moments, relaunch it with the same
command, and count the runs that finish with the results of an uninterrupted one.

Each trial starts a fresh workdir, SIGKILLs the run after a uniformly random time within the
uninterrupted run's duration, relaunches it, then compares ``datadiet.run_digest.digest`` (scores,
subsets, retraining results, report tables) with the uninterrupted run's and checks that every
result file finished before the kill was left untouched. One JSON line per trial, then a summary.

  python bench/kill_resume.py --trials=12 --out=bench/results/kill_resume_cpu_2core.jsonl
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from absl import app, flags

from datadiet import run_digest

ROOT = Path(__file__).resolve().parents[1]
_TRIALS = flags.DEFINE_integer('trials', 12, 'Random kill points.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the kill times.')
_OUT = flags.DEFINE_string('out', None, 'Also append the JSON lines to this file.')
# A small but complete pipeline on the offline digits (≈ 40 s on 2 cores): every stage, a
# mid-run checkpoint in every training run, scores at two steps, three pruning methods.
OVERRIDES = ['--config.pretrain.seeds=(0,1)', '--config.optim.budget=60',
             '--config.scores.steps=(0,30)',
             "--config.scores.names=('el2n','grand','random')", "--config.prune.by=('el2n',)",
             "--config.prune.methods=('keep_hardest','ccs','random')",
             '--config.prune.fractions=(0.3,0.6)', '--config.retrain.seeds=(100,)',
             '--config.runtime.checkpoint_every_steps=20', '--config.runtime.log_every_steps=20',
             '--config.runtime.tensorboard=False']


def _command(workdir: Path) -> list[str]:
  return [sys.executable, 'launch.py', '--config', 'configs/default.py', '--workdir',
          str(workdir), *OVERRIDES]


def _run(workdir: Path) -> float:
  start = time.perf_counter()
  subprocess.run(_command(workdir), cwd=ROOT, check=True, capture_output=True)
  return time.perf_counter() - start


def main(argv):
  del argv
  root = Path(tempfile.mkdtemp(prefix='datadiet-kill-'))
  reference_seconds = _run(root / 'uninterrupted')
  reference = run_digest.digest(root / 'uninterrupted')
  rng = random.Random(_SEED.value)
  lines, survived = [], 0
  for trial in range(_TRIALS.value):
    workdir = root / f'trial{trial}'
    kill_after = rng.uniform(0.5, reference_seconds)
    proc = subprocess.Popen(_command(workdir), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
      proc.wait(timeout=kill_after)
      killed = False  # It finished first.
    except subprocess.TimeoutExpired:
      proc.send_signal(signal.SIGKILL)
      proc.wait()
      killed = True
    stages_done = sorted(p.stem for p in (workdir / 'stages').glob('*.done'))
    before = {name: (workdir / name).stat().st_mtime_ns for name in run_digest.digest(workdir)}
    relaunch_ok = subprocess.run(_command(workdir), cwd=ROOT, capture_output=True).returncode == 0
    digest = run_digest.digest(workdir)
    untouched = all((workdir / n).stat().st_mtime_ns == t for n, t in before.items())
    same = relaunch_ok and digest == reference
    survived += same and untouched
    line = dict(trial=trial, kill_after_s=round(kill_after, 2), killed=killed,
                stages_done_at_kill=stages_done, results_at_kill=len(before),
                relaunch_ok=relaunch_ok, identical_results=same, finished_untouched=untouched,
                differing=sorted(n for n in reference.keys() | digest.keys()
                                 if reference.get(n) != digest.get(n)))
    lines.append(line)
    print(json.dumps(line), flush=True)
  summary = dict(summary='kill_resume', trials=_TRIALS.value, survived=survived,
                 uninterrupted_s=round(reference_seconds, 1), workdirs=str(root))
  print(json.dumps(summary))
  if _OUT.value:
    with open(_OUT.value, 'a') as f:
      f.writelines(json.dumps(x) + '\n' for x in lines + [summary])


if __name__ == '__main__':
  app.run(main)
