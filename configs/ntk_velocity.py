"""NTK velocity on CIFAR-10: how fast the kernel of easy and hard examples moves, clean vs noisy.

CPU scale (the default, ≈ 16 minutes on 2 CPU cores, on the shared JPEG copy):

  python launch.py --config configs/ntk_velocity.py --workdir /tmp/datadiet_ntk_velocity

The small CNN; 2 scoring seeds give EL2N after 1 epoch (step 391); one network trains 782 steps
(2 epochs) with checkpoints every half epoch; 10 blocks of 50 consecutive examples evenly spaced
along the EL2N ranking (lowest to highest) have their 50 × 50 logit-trace NTK Gram matrices
compared between consecutive checkpoints; with clean labels and with 10% of the labels corrupted.

The paper's setting (a GPU/TPU job: ResNet18, EL2N at epoch 20, 25 blocks of 100, checkpoints
every epoch for 10 epochs; a block's Jacobian, 45 GB, does not fit, so the Gram matrices come
from Jacobian-vector products):

  python launch.py --config configs/ntk_velocity.py:paper --workdir /tmp/ntk_velocity_r18 \
      --config.data.dir=$HOME/tensorflow_datasets
"""

import ml_collections

from configs import _cifar10_dynamics


def get_config(setting: str = 'cpu') -> ml_collections.ConfigDict:
  # The paper scores at epoch 20.
  config = _cifar10_dynamics.base_config(setting, 'ntk_velocity', paper_score_step=7_800)
  if setting == 'cpu':
    config.analyses.ntk_velocity.checkpoint_steps = (0, 195, 391, 586, 782)
    # Blocks of 50 (the paper's are 100): a block's Gram matrix costs B·K single-image backward
    # passes, one image at a time (chunk_size 1: on XLA:CPU a batch of per-image convolution
    # gradients is a grouped convolution, 2.5× slower here; bench/ntk.py).
    config.analyses.ntk_velocity.block_size = 50
    config.analyses.ntk_velocity.num_blocks = 10
    config.analyses.ntk_velocity.chunk_size = 1
  else:
    config.analyses.ntk_velocity.checkpoint_steps = tuple(391 * epoch for epoch in range(11))
    config.analyses.ntk_velocity.block_size = 100
    config.analyses.ntk_velocity.num_blocks = 25
  config.analyses.ntk_velocity.label_noise_fractions = (0.0, 0.1)
  return config
