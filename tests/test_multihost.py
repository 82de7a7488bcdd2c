"""Two processes on localhost (CPU, gloo collectives) run pretraining and scoring as one job and
write the same score files as a single process."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from datadiet import score_files

ROOT = Path(__file__).resolve().parents[1]
# Three seeds on two devices: gcd(3, 2) = 1 seed-group, so the data axis spans both processes.
# Every training batch, BatchNorm statistic and scoring batch is split between them.
OVERRIDES = ['--config.model.name=small_cnn', '--config.pretrain.seeds=(0,1,2)',
             '--config.optim.budget=12', '--config.scores.steps=(0,8)',
             "--config.stages=('pretrain','score')",
             "--config.scores.names=('el2n','grand','loss','input_norm','random')",
             '--config.optim.batch_size=32', '--config.runtime.score_batch_size=128',
             '--config.runtime.log_every_steps=4', '--config.runtime.tensorboard=False']


def _launch(workdir, *extra, env=None):
  return subprocess.Popen(
      [sys.executable, 'launch.py', '--config', 'configs/default.py', '--workdir', str(workdir),
       *OVERRIDES, *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      text=True)


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


# Process 1 arrives late: it looks at the workdir after process 0 could have written to it.
_LATE_PROCESS = """
import sys, time
from pathlib import Path
import jax
jax.config.update('jax_cpu_collectives_implementation', 'gloo')
jax.distributed.initialize(sys.argv[1], num_processes=2, process_id=int(sys.argv[2]))
from datadiet import atomic_files, multihost
from datadiet.train import checkpoints
workdir = Path(sys.argv[3])
if jax.process_index() == 1:
  time.sleep(3)
# Write-if-missing: process 1 must decide before process 0's file can appear.
if not (workdir / 'once.json').exists():
  atomic_files.write_json(workdir / 'once.json', {'written': True})
# Listing checkpoints enters no barrier, though process 0's manager created the directory.
if jax.process_index() == 1:
  time.sleep(3)
steps = checkpoints.saved_steps(workdir / 'checkpoints')
checkpoints.manager(workdir / 'checkpoints')
multihost.barrier('end')
print('steps', steps, 'done')
"""


def test_a_late_process_takes_the_same_branches_and_barriers(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='')
  address = f'localhost:{_free_port()}'
  procs = [subprocess.Popen([sys.executable, '-c', _LATE_PROCESS, address, str(i), str(tmp_path)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True) for i in range(2)]
  for proc in procs:
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0 and 'steps [] done' in output, output[-3000:]
  assert json.loads((tmp_path / 'once.json').read_text()) == {'written': True}


def test_two_processes_score_like_one(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='')  # One CPU device per process.
  address = f'localhost:{_free_port()}'
  procs = [_launch(tmp_path / 'two', '--config.runtime.distributed.enabled=True',
                   f'--config.runtime.distributed.coordinator_address={address}',
                   '--config.runtime.distributed.num_processes=2',
                   f'--config.runtime.distributed.process_id={i}', env=env) for i in range(2)]
  single = _launch(tmp_path / 'one', env=env)
  outputs = []
  for proc in procs + [single]:
    outputs.append(proc.communicate(timeout=600)[0])
    assert proc.returncode == 0, outputs[-1][-3000:]
  for i in range(2):
    assert f'Process {i} of 2; 1 local and 2 global devices.' in outputs[i]
  names = sorted(p.name for p in (tmp_path / 'one' / 'scores').glob('*.npz'))
  assert names == sorted(p.name for p in (tmp_path / 'two' / 'scores').glob('*.npz'))
  assert len(names) == 3 * 2 + 2  # el2n, grand, loss at steps 0 and 8; input_norm, random.
  for name in names:
    one = score_files.load_scores(tmp_path / 'one' / 'scores' / name)
    two = score_files.load_scores(tmp_path / 'two' / 'scores' / name, ids=one.ids)
    assert two.per_seed.shape == (3, len(one.ids))
    np.testing.assert_allclose(two.per_seed, one.per_seed, rtol=2e-4, atol=1e-6, err_msg=name)
  # Process 0 alone wrote the metrics: one line per (logged step, seed), none duplicated.
  rows = [json.loads(line) for line in
          (tmp_path / 'two' / 'pretrain' / 'metrics.jsonl').read_text().splitlines()]
  keys = [(r['step'], r['split'], r['seed']) for r in rows]
  assert len(keys) == len(set(keys)) and {r['seed'] for r in rows} == {0, 1, 2}


def test_two_processes_stream_and_score_like_one(tmp_path, write_varied_image_folder):
  """Streamed from disk, each process reads only its share of every scoring batch."""
  dataset = write_varied_image_folder(tmp_path / 'images', per_class=12)
  stream = [f'--config.data.name={dataset}', '--config.data.image_size=12',
            '--config.runtime.input_pipeline=stream']
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='')
  address = f'localhost:{_free_port()}'
  procs = [_launch(tmp_path / 'two', *stream, '--config.runtime.distributed.enabled=True',
                   f'--config.runtime.distributed.coordinator_address={address}',
                   '--config.runtime.distributed.num_processes=2',
                   f'--config.runtime.distributed.process_id={i}', env=env) for i in range(2)]
  single = _launch(tmp_path / 'one', *stream, env=env)
  outputs = []
  for proc in procs + [single]:
    outputs.append(proc.communicate(timeout=600)[0])
    assert proc.returncode == 0, outputs[-1][-3000:]
  for i in range(2):  # 128-example scoring batches split over two processes' devices.
    assert f'process {i} reads 64 of every 128.' in outputs[i]
  assert 'process 0 reads 128 of every 128.' in outputs[2]
  names = sorted(p.name for p in (tmp_path / 'one' / 'scores').glob('*.npz'))
  assert len(names) == 8 and names == sorted(
      p.name for p in (tmp_path / 'two' / 'scores').glob('*.npz'))
  for name in names:
    one = score_files.load_scores(tmp_path / 'one' / 'scores' / name)
    two = score_files.load_scores(tmp_path / 'two' / 'scores' / name, ids=one.ids)
    assert len(one.ids) == 36
    np.testing.assert_allclose(two.per_seed, one.per_seed, rtol=2e-4, atol=1e-6, err_msg=name)
