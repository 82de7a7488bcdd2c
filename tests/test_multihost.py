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
