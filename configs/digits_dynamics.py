"""The three training-dynamics analyses on the offline digits (≈ 1 minute on 2 CPU cores).

  python launch.py --config configs/digits_dynamics.py --workdir /tmp/datadiet_dynamics

4 MLP seeds give EL2N after 60 of 300 steps; then the offset sweep (windows of 40% of the
training pool, 10% held out for validation, clean and 10% noisy labels), error barriers between
children spawned at steps 0, 5, 20 and 60, and NTK velocity of 10 blocks of 20 digits between
steps 0, 20, 60, 150 and 300 (clean and noisy) — all with the settings in ``configs/default.py``.
The CIFAR-10 versions: ``configs/offset_sweep.py``, ``error_barrier.py``, ``ntk_velocity.py``.
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
  config = default.get_config()
  config.stages = ('pretrain', 'score', 'offset_sweep', 'error_barrier', 'ntk_velocity', 'report')
  config.scores.names = ('el2n', 'grand')
  config.prune.by = ('el2n',)
  return config
