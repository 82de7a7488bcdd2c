"""bench/grand_layers.py --smoke: the GraNd profile's own code on a CPU, tiny ResNet18."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_times_every_pass_and_every_layer_geometry(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  # A memory budget no form exceeds: every form is timed (the default budget's exclusions are
  # tested in tests/scores/test_norm_tuning.py).
  run = subprocess.run([sys.executable, 'bench/grand_layers.py', '--smoke', '--dtypes=float32',
                        '--batch=4', '--min_seconds=0.05', '--argument_memory_ratio=1e6',
                        f'--out={tmp_path}'], cwd=ROOT,
                       env=env, capture_output=True, text=True)
  assert run.returncode == 0, run.stderr[-3000:]
  name = 'grand_layers_cpu_smoke_amr1e+06'  # The budget's run has files of its own.
  rows = [json.loads(line) for line in (tmp_path / f'{name}.jsonl').open()]
  passes = {r['measurement']: r for r in rows if r['measurement'] != 'layer'}
  assert list(passes) == ['grand_measure', 'forward', 'input_backward', 'param_backward',
                          'grand_flops', 'grand_materialize']
  assert all(r['images_per_s'] > 0 and r['dtype'] == 'float32' for r in passes.values())
  layers = [r for r in rows if r['measurement'] == 'layer']
  # ResNet18: the stem, 16 block convolutions, 3 projections, the classifier.
  assert sum(r['layers'] for r in layers) == 21
  assert sum(r['layers'] for r in layers if r['layer'].startswith('Dense')) == 1
  assert all(r['argument_memory_ratio'] == 1e6 for r in rows)
  for row in layers:
    assert None not in row['seconds'].values(), row  # Nothing left out by the budget.
    timed = row['seconds']
    assert row['chosen'] == min(timed, key=timed.get)  # 'measure' keeps the fastest it ran.
    assert set(row['planned_bytes']) == set(row['seconds'])
    assert all(b > 0 for b in row['planned_bytes'].values())
  summary = (tmp_path / f'{name}.md').read_text()
  assert 'argument_memory_ratio 1e+06' in summary.splitlines()[0]
  assert '| float32 | input_backward |' in summary
  assert '| float32 | Dense  | [4, 16] | 1 |' in summary


def test_resnet18_is_cifar10s_model_on_32px_images():
  """--model=resnet18 profiles configs/cifar10_resnet18.py's model (11,173,962 parameters)."""
  code = ('import sys; sys.path.insert(0, "bench"); import grand_layers, jax; '
          'from absl import flags; flags.FLAGS(["x", "--model=resnet18", "--batch=2"]); '
          'model, variables, images, labels = grand_layers._model_and_data("float32"); '
          'print(images.shape, model.apply(variables, images, train=False).shape, '
          'sum(x.size for x in jax.tree.leaves(variables["params"])))')
  run = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert run.returncode == 0, run.stderr[-3000:]
  assert run.stdout.split('\n')[-2] == '(2, 32, 32, 3) (2, 10) 11173962'
