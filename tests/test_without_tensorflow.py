"""TensorFlow and TFDS are optional: in a process where importing either fails, every datadiet
module but the tf.data path (tf_stream) imports, the default pipeline runs (in miniature)
through launch.py, a training job reads an image folder (in memory, and streamed), and the TFDS
and tf.data paths refuse with one clear line."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = '''
import sys
sys.modules['tensorflow'] = None  # `import tensorflow` now fails, as if it were not installed.
sys.modules['tensorflow_datasets'] = None
import importlib, json, pkgutil, runpy
import datadiet
for module in pkgutil.walk_packages(datadiet.__path__, 'datadiet.'):
  if module.name != 'datadiet.data.tf_stream':
    importlib.import_module(module.name)

workdir, folder = sys.argv[1], sys.argv[2]
sys.argv = ['launch.py', '--config=configs/default.py', f'--workdir={workdir}/pipeline',
            '--config.optim.budget=16', '--config.scores.steps=(0,8)',
            '--config.pretrain.seeds=(0,1)', '--config.retrain.seeds=(100,)',
            '--config.prune.fractions=(0.5,)',
            "--config.prune.methods=('keep_hardest','random')", "--config.prune.by=('el2n',)",
            "--config.scores.names=('el2n','grand','random')",
            '--config.runtime.tensorboard=True']  # Asked for: without TensorFlow, a warning.
try:
  runpy.run_path('launch.py', run_name='__main__')
except SystemExit as e:
  assert e.code in (None, 0), e.code

from configs import train
from datadiet import errors, jobs
from datadiet.data import sources
config = train.get_config()
config.update_from_flattened_dict({'data.name': f'image_folder:{folder}', 'optim.budget': 2,
                                   'optim.batch_size': 4, 'runtime.eval_batch_size': 4})
jobs.run(config, f'{workdir}/train')
config.runtime.input_pipeline = 'stream'
jobs.run(config, f'{workdir}/stream')
refusals = []
config.runtime.input_pipeline = 'tf_data'
for attempt in (lambda: sources.load('cifar10'), lambda: jobs.run(config, f'{workdir}/tf_data')):
  try:
    attempt()
  except errors.InputError as e:
    refusals.append(str(e))
imported = sorted(name for name, module in sys.modules.items()
                  if name.split('.')[0] in ('tensorflow', 'tensorflow_datasets')
                  and module is not None)
print(json.dumps({'refusals': refusals, 'imported': imported}))
'''


def test_runs_without_tensorflow(tmp_path, write_image_folder):
  write_image_folder(tmp_path / 'images', per_class=4)
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  result = subprocess.run([sys.executable, '-c', SCRIPT, str(tmp_path),
                           str(tmp_path / 'images')], cwd=ROOT, env=env, capture_output=True,
                          text=True)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report['imported'] == []
  tfds_refusal, tf_data_refusal = report['refusals']
  assert "'cifar10' is read through TFDS, which is not installed" in tfds_refusal
  assert "input_pipeline='tf_data' needs TensorFlow" in tf_data_refusal
  # The pipeline finished: every stage, results, and metrics without TensorBoard.
  pipeline = tmp_path / 'pipeline'
  assert sorted(p.stem for p in (pipeline / 'stages').glob('*.done')) == sorted(
      ['pretrain', 'score', 'prune', 'retrain', 'report'])
  assert len(json.loads((pipeline / 'results.json').read_text())) == 3  # full + 2 subsets.
  assert (pipeline / 'pretrain' / 'metrics.jsonl').exists()
  assert not (pipeline / 'pretrain' / 'tensorboard').exists()
  assert 'TensorFlow is not installed: no TensorBoard event files' in result.stderr
  assert (tmp_path / 'train' / 'checkpoints').is_dir()
  assert (tmp_path / 'stream' / 'checkpoints').is_dir()
  assert not (tmp_path / 'tf_data').exists()  # Refused before the workdir was made.
