"""Seeds (and batches) sharded over 4 forced CPU devices train to the parameters of 1 device, and
evaluate (examples split over the data axis) to its test loss and accuracy."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh process: the device count is fixed when JAX starts.
SCRIPT = '''
import sys, jax, numpy as np
from configs import train
from datadiet.data import sources
from datadiet.scores import forgetting
from datadiet.train import loop
config = train.get_config()
seeds = list(range(int(sys.argv[3])))
config.update_from_flattened_dict({
    'model.name': 'small_cnn', 'pretrain.seeds': tuple(seeds), 'runtime.seed_strategy': sys.argv[2],
    'data.augment': 'pad_crop_flip', 'optim.batch_size': 16, 'optim.budget_unit': 'steps',
    'optim.budget': 4,
    'runtime.log_every_steps': 2, 'runtime.tensorboard': False,
    'runtime.eval_batch_size': 7,  # Rounded up to split over a data axis of 2: padding.
    'runtime.input_pipeline': sys.argv[4]})
result = loop.train_ensemble(config, sys.argv[1], sources.load('digits'), seeds=seeds,
                             trackers=(forgetting.TRACKER,))
leaves = jax.tree.leaves(jax.device_get((result.state.params, result.state.batch_stats)))
devices = len(result.state.step.sharding.device_set)
forgotten = np.asarray(result.state.trackers['forgetting'].presentations)
np.savez(sys.argv[1] + '/params.npz', devices=devices, presentations=forgotten,
         test_loss=result.test['loss'], test_accuracy=result.test['accuracy'], *leaves)
'''


def _train(workdir, devices, strategy, num_seeds, input_pipeline='device'):
  env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}',
             JAX_PLATFORMS='cpu', PYTHONPATH=str(ROOT))
  result = subprocess.run([sys.executable, '-c', SCRIPT, str(workdir), strategy,
                           str(num_seeds), input_pipeline], cwd=ROOT, env=env,
                          capture_output=True, text=True)
  if result.returncode:  # pytest.fail prints all of it (an assert's message is cut short).
    fatal = [line for line in result.stderr.splitlines() if line.startswith(('F', 'E'))]
    pytest.fail(f'exit {result.returncode}; fatal lines: {fatal[-5:]}\n'
                f'{result.stderr[-4000:]}')
  with np.load(workdir / 'params.npz') as saved:
    leaves = [saved[f'arr_{i}'] for i in range(len(saved.files) - 4)]
    test = (saved['test_loss'], saved['test_accuracy'])
    return int(saved['devices']), saved['presentations'], leaves, test


@pytest.mark.parametrize('strategy,num_seeds,input_pipeline', [
    ('unroll', 4, 'device'),  # 4 seeds × 1 data shard; the training set on every device.
    ('vmap', 4, 'device'),
    # 2 seeds × 2 data shards: gradients and BatchNorm statistics averaged; tf.data batches on
    # 4 devices against device-path batches on 1 (both paths realise the same batches).
    ('unroll', 2, 'tf_data'),
])
def test_four_devices_match_one(tmp_path, strategy, num_seeds, input_pipeline):
  devices_1, presented_1, one, test_1 = _train(tmp_path / 'one', 1, strategy, num_seeds)
  devices_4, presented_4, four, test_4 = _train(tmp_path / 'four', 4, strategy, num_seeds,
                                                input_pipeline)
  assert (devices_1, devices_4) == (1, 4)
  np.testing.assert_array_equal(presented_1, presented_4)  # Forgetting sees every shard.
  assert presented_4.sum() == num_seeds * 4 * 16
  for a, b in zip(one, four):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(test_1[0], test_4[0], rtol=1e-5)  # Per-seed test loss.
  np.testing.assert_array_equal(test_1[1], test_4[1])  # Per-seed test accuracy.
  assert test_4[1].shape == (num_seeds,) and (test_4[1] > 0).all()


MESH_SCRIPT = '''
from datadiet.train import ensemble
for seeds in (4, 2, 3, 8):
  print(seeds, dict(ensemble.make_mesh(seeds, batch_size=12).shape))
try:
  ensemble.make_mesh(2, batch_size=3)
except ValueError as e:
  print('error:', e)
'''


def test_mesh_layout_and_indivisible_batch():
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4',
             JAX_PLATFORMS='cpu', PYTHONPATH=str(ROOT))
  out = subprocess.run([sys.executable, '-c', MESH_SCRIPT], cwd=ROOT, env=env, check=True,
                       capture_output=True, text=True).stdout.splitlines()
  assert out[:4] == ["4 {'seeds': 4, 'data': 1}", "2 {'seeds': 2, 'data': 2}",
                     "3 {'seeds': 1, 'data': 4}", "8 {'seeds': 4, 'data': 1}"]
  assert out[4].startswith('error: config.optim.batch_size 3 does not split over the 2 devices')
