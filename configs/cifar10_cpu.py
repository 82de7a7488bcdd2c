"""CPU-scale CIFAR-10 study on the shared JPEG copy (≈ 46 minutes on 2 CPU cores).

  python launch.py --config configs/cifar10_cpu.py --workdir /tmp/datadiet_cifar10_cpu

A small CNN (two conv-BN-ReLU-pool blocks): 2 scoring seeds, EL2N and GraNd at initialisation
and after 2 epochs (step 782); subsets keeping 50% of the 50,000 training images by keep-hardest,
the offset band and CCS on EL2N, and at random; 2 fresh seeds train a fixed 1,564 steps (4 epochs
of the full set, 8 of a half) with a one-cycle schedule on each subset and on the full set.
Point ``--config.data.name=image_folder:<path>`` elsewhere if the shared copy lives elsewhere.
"""

import ml_collections

from configs import base


def get_config() -> ml_collections.ConfigDict:
  config = base.get_config()
  config.data.name = 'image_folder:../shared/datasets/cifar10_jpeg'
  config.model.name = 'small_cnn'
  config.data.augment = 'pad_crop_flip'
  config.optim.batch_size = 128
  config.runtime.eval_batch_size = 1000
  config.optim.budget_unit = 'steps'
  config.optim.budget = 1_564  # 4 epochs of the full training set, for every subset size.
  config.optim.learning_rate = 0.1
  config.optim.schedule = 'onecycle'
  config.runtime.log_every_steps = 100
  config.runtime.checkpoint_every_steps = 500
  config.pretrain.seeds = (0, 1)
  config.scores.steps = (0, 782)  # Initialisation and 2 epochs.
  config.scores.names = ('el2n', 'grand', 'input_norm', 'random')
  config.runtime.score_batch_size = 1000
  config.prune.by = ('el2n',)
  config.prune.methods = ('keep_hardest', 'offset', 'ccs', 'random')
  config.prune.fractions = (0.5,)
  config.prune.kwargs.offset.fraction = 0.01  # Also drop the 500 hardest.
  config.prune.kwargs.ccs.hard_cutoff = 0.01
  config.prune.kwargs.ccs.cutoff_score = ''  # Cut by EL2N itself (no AUM at this scale).
  config.prune.kwargs.ccs.hard_cutoffs = ()
  config.retrain.seeds = (100, 101)
  return config
