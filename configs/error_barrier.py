"""Error barriers on CIFAR-10: when do children spawned from one parent stay linearly connected on
the hardest, the easiest and random examples?

CPU scale (the default, ≈ 22 minutes on 2 CPU cores, on the shared JPEG copy):

  python launch.py --config configs/error_barrier.py --workdir /tmp/datadiet_error_barrier

The small CNN trained for 782 steps (2 epochs); 2 scoring seeds give EL2N after 1 epoch; children
of one parent spawned at steps 0, 25, 100, 250 and 500 train to step 782; error and loss along
α ∈ {0, ¼, ½, ¾, 1} on the 1,000 highest-EL2N, 1,000 lowest-EL2N and 1,000 random training
images, BatchNorm statistics recomputed from 20 batches of 128 training images for every α.

The paper's setting (a GPU/TPU job: ResNet18, 78,000 steps, t* up to epoch 40):

  python launch.py --config configs/error_barrier.py:paper --workdir /tmp/error_barrier_r18 \
      --config.data.dir=$HOME/tensorflow_datasets
"""

import ml_collections

from configs import _cifar10_dynamics


def get_config(setting: str = 'cpu') -> ml_collections.ConfigDict:
  # The paper scores at epoch 20.
  config = _cifar10_dynamics.base_config(setting, 'error_barrier', paper_score_step=7_800)
  if setting == 'cpu':
    config.analyses.error_barrier.spawn_steps = (0, 25, 100, 250, 500)
  else:
    # Epochs 0, 1, 2, 5, 10, 20, 40 (391 steps each).
    config.analyses.error_barrier.spawn_steps = (0, 391, 782, 1_955, 3_910, 7_820, 15_640)
  config.analyses.error_barrier.num_examples = 1000
  config.analyses.error_barrier.bn_batches = 20
  return config
