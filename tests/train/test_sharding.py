"""Seeds sharded over 4 forced CPU devices train to the same parameters as on 1 device."""

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
from datadiet.train import loop
config = train.get_config()
config.update(dict(model='small_cnn', seeds=(0, 1, 2, 3), seed_strategy=sys.argv[2],
                   augment=True, batch_size=16, budget_unit='steps', budget=4,
                   log_every_steps=2, tensorboard=False))
result = loop.train_ensemble(config, sys.argv[1], sources.load('digits'), seeds=[0, 1, 2, 3])
leaves = jax.tree.leaves(jax.device_get(result.state.params))
shards = len(result.state.step.sharding.device_set)
np.savez(sys.argv[1] + '/params.npz', shards=shards, *leaves)
'''


def _train(workdir, devices, strategy):
  env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}',
             JAX_PLATFORMS='cpu', PYTHONPATH=str(ROOT))
  subprocess.run([sys.executable, '-c', SCRIPT, str(workdir), strategy], cwd=ROOT, env=env,
                 check=True, capture_output=True)
  with np.load(workdir / 'params.npz') as saved:
    return int(saved['shards']), [saved[f'arr_{i}'] for i in range(len(saved.files) - 1)]


@pytest.mark.parametrize('strategy', ['unroll', 'vmap'])
def test_four_devices_match_one(tmp_path, strategy):
  shards_1, one = _train(tmp_path / 'one', 1, strategy)
  shards_4, four = _train(tmp_path / 'four', 4, strategy)
  assert (shards_1, shards_4) == (1, 4)
  for a, b in zip(one, four):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
