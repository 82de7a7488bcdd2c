"""bench/gpu.py --smoke: the GPU benchmark's own code on a CPU, tiny model and data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_measures_every_path_and_runs_figure_1_and_airbench(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  subprocess.run([sys.executable, 'bench/gpu.py', '--smoke', f'--out={tmp_path / "out"}',
                  f'--workdir={tmp_path / "work"}', '--min_seconds=0.05'], cwd=ROOT, env=env,
                 check=True, capture_output=True)
  (jsonl,) = (tmp_path / 'out').glob('gpu_*_smoke.jsonl')
  rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
  micro = {(r['measurement'], r['dtype'], r['batch_size'], r.get('strategy'), r['model'])
           for r in rows if 'dtype' in r}
  for dtype in ('float32', 'bfloat16'):
    for batch in (8, 16):
      for name in ('train_step', 'forward', 'el2n', 'grand'):
        assert (name, dtype, batch, None, 'small_cnn') in micro
    for strategy in ('unroll', 'vmap', 'auto'):
      assert ('ensemble_step', dtype, 32, strategy, 'small_cnn') in micro
  assert all(r['images_per_s'] > 0 for r in rows if 'dtype' in r)
  stages = {r['stage']: r for r in rows if r['measurement'] == 'figure1_stage'}
  assert list(stages) == ['pretrain', 'score', 'prune', 'retrain', 'report']
  assert stages['pretrain']['images_per_s'] > 0 and stages['score']['examples_scored_per_s'] > 0
  # The accuracy table is the run's own results, averaged over its two retraining seeds.
  (total,) = [r for r in rows if r['measurement'] == 'figure1_total']
  results = json.loads((Path(total['workdir']) / 'results.json').read_text())
  assert (Path(total['workdir']) / 'figure1.png').stat().st_size > 0
  accuracy = {r['subset']: r['test_accuracy'] for r in rows
              if r['measurement'] == 'figure1_accuracy'}
  # configs/cifar10_figure1.py:smoke: 5 scores × 2 methods × 2 fractions, random at 3, the full
  # set, and the top panel: keep-hardest by EL2N and GraNd at steps 0, 4, 8, half pruned.
  assert len(accuracy) == 20 + 3 + 1 + 6
  assert {'full', 'keep_hardest-el2n@4-p0.3', 'ccs-aum@16-p0.7', 'random-p0.5',
          'keep_hardest-el2n@8-p0.5', 'keep_hardest-grand@0-p0.5'} <= set(accuracy)
  for subset, value in accuracy.items():
    np.testing.assert_allclose(value, np.mean([r['test_accuracy'] for r in results
                                               if r['subset'] == subset]))
  summary = next((tmp_path / 'out').glob('gpu_*_smoke.md')).read_text()
  assert '| GraNd fast path | bfloat16 | 16 |' in summary
  assert '| keep_hardest, el2n | ' in summary and '| random | ' in summary  # Figure 1's tables.
  # airbench: the train job's own test rows, and its training time per seed.
  (row,) = [r for r in rows if r['measurement'] == 'airbench']
  assert row['finished'] and Path(row['workdir']).parent == tmp_path / 'work'
  metrics = [json.loads(line) for line in
             (Path(row['workdir']) / 'metrics.jsonl').read_text().splitlines()]
  tested = {r['seed']: r['accuracy'] for r in metrics if r['split'] == 'test'}
  assert row['test_accuracy'] == [tested[0], tested[1]]
  np.testing.assert_allclose(row['mean_test_accuracy'], np.mean(row['test_accuracy']))
  assert row['training_seconds_per_seed'] == row['steps'] * row['batch_size'] / row[
      'ensemble_images_per_s'] > 0
  assert 'training seconds per seed' in summary


def test_an_airbench_run_that_does_not_finish_is_reported_and_the_bench_goes_on(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  subprocess.run([sys.executable, 'bench/gpu.py', '--smoke', '--parts=airbench',
                  '--airbench_timeout_s=0.5', f'--out={tmp_path / "out"}',
                  f'--workdir={tmp_path / "work"}'], cwd=ROOT, env=env, check=True,
                 capture_output=True)
  (jsonl,) = (tmp_path / 'out').glob('gpu_*_smoke.jsonl')
  (row,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
  assert row['measurement'] == 'airbench' and not row['finished'] and row['why'] == 'timed out'
  assert 'did not finish (timed out' in next((tmp_path / 'out').glob('gpu_*_smoke.md')).read_text()


def test_budget_sweep_runs_a_budget_per_lease_in_one_workdir(tmp_path):
  """Two leases: the first trains budget 0.25, the second adds 0.5 and reads 0.25 back."""
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  command = [sys.executable, 'bench/gpu.py', '--smoke', '--parts=budget_sweep',
             f'--out={tmp_path / "out"}', f'--workdir={tmp_path / "work"}']
  subprocess.run(command + ['--budgets=0.25'], cwd=ROOT, env=env, check=True,
                 capture_output=True)
  workdir = tmp_path / 'work' / 'budget_sweep_smoke'
  first = {p: p.stat().st_mtime_ns for p in workdir.glob('budget_sweep/*/*/*/result.json')}
  assert sorted(p.parent.parent.name for p in first) == ['0.25epochs'] * 4  # 4 methods, 1 fraction.
  subprocess.run(command + ['--budgets=0.25,0.5'], cwd=ROOT, env=env, check=True,
                 capture_output=True)
  second = {p: p.stat().st_mtime_ns for p in workdir.glob('budget_sweep/*/*/*/result.json')}
  assert {p: second[p] for p in first} == first  # Read back, not retrained.
  assert len(second) == 8
  rows = [json.loads(line) for line in next((tmp_path / 'out').glob('gpu_*_smoke.jsonl')).open()]
  (row,) = [r for r in rows if r['measurement'] == 'budget_sweep']
  assert row['finished'] and row['runs_per_budget'] == {'0.25epochs': 4, '0.5epochs': 4}
  choices = json.loads((workdir / 'budget_sweep_choice.json').read_text())
  assert [(c['budget_epochs'], c['fraction_pruned']) for c in choices] == [(0.25, 0.5), (0.5, 0.5)]
  summary = next((tmp_path / 'out').glob('gpu_*_smoke.md')).read_text()
  assert '## Budget sweep: when keeping the hardest pays' in summary
