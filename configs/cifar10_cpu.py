"""CPU-scale CIFAR-10 study on the shared JPEG copy (≈ 46 minutes on 2 CPU cores).

  python launch.py --config configs/cifar10_cpu.py --workdir /tmp/datadiet_cifar10_cpu

A small CNN (two conv-BN-ReLU-pool blocks): 2 scoring seeds, EL2N and GraNd at initialisation
and after 2 epochs (step 782); subsets keeping 50% of the 50,000 training images by keep-hardest,
the offset band and CCS on EL2N, and at random; 2 fresh seeds train a fixed 1,564 steps (4 epochs
of the full set, 8 of a half) with a one-cycle schedule on each subset and on the full set.
Point ``--config.dataset=image_folder:<path>`` elsewhere if the shared copy lives elsewhere.
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
  config = default.get_config()
  config.dataset = 'image_folder:../shared/datasets/cifar10_jpeg'
  config.model = 'small_cnn'
  config.augment = True
  config.batch_size = 128
  config.eval_batch_size = 1000
  config.budget_unit = 'steps'
  config.budget = 1_564  # 4 epochs of the full training set, for every subset size.
  config.learning_rate = 0.1
  config.schedule = 'onecycle'
  config.log_every_steps = 100
  config.checkpoint_every_steps = 500
  config.seeds = (0, 1)
  config.score_steps = (0, 782)  # Initialisation and 2 epochs.
  config.scores = ('el2n', 'grand', 'input_norm', 'random')
  config.score_batch_size = 1000
  config.prune_by = ('el2n',)
  config.prune_methods = ('keep_hardest', 'offset', 'ccs', 'random')
  config.fractions_pruned = (0.5,)
  config.offset_fraction = 0.01  # Also drop the 500 hardest.
  config.ccs_hard_cutoff = 0.01
  config.retrain_seeds = (100, 101)
  return config
