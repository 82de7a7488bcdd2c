"""CIFAR-10 / ResNet18: the paper's protocol (a job for a GPU/TPU host).

  python launch.py --config configs/cifar10_resnet18.py --workdir /tmp/c10_r18 \
      --config.data_dir=$HOME/tensorflow_datasets

10 scoring seeds; EL2N and GraNd at initialisation and at epoch 20 (step 7,800), forgetting at
the end of the 78,000-step run (so the 10 scoring seeds train fully); subsets pruning 10–90% by
keep-hardest, the offset band and CCS, and at random; 4 fresh seeds train the same 78,000 steps
(batch 128, SGD + Nesterov, lr 0.1 ×0.2 at 30/60/80% of the run, weight decay 5e-4) on each.
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
  config = default.get_config()
  config.dataset = 'cifar10'
  config.model = 'resnet18'
  config.augment = True
  config.batch_size = 128
  config.eval_batch_size = 1000
  config.budget_unit = 'steps'
  config.budget = 78_000
  config.learning_rate = 0.1
  config.schedule = 'piecewise'
  config.log_every_steps = 100
  config.checkpoint_every_steps = 2_000  # Preemption safety.
  config.seeds = tuple(range(10))
  config.score_steps = (0, 7_800)
  config.scores = ('el2n', 'grand', 'forgetting', 'input_norm', 'random')
  config.score_batch_size = 1000
  config.prune_by = ('el2n@7800', 'grand@7800', 'grand@0', 'forgetting@78000')
  config.prune_methods = ('keep_hardest', 'offset', 'ccs', 'random')
  config.fractions_pruned = (0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
  config.offset_fraction = 0.01  # ≈ 500 of the hardest, the paper's best window on clean data.
  config.retrain_seeds = (100, 101, 102, 103)
  return config
