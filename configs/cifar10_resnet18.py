"""CIFAR-10 / ResNet18: the paper's protocol (a job for a GPU/TPU host); ``configs/base.py``.

  python launch.py --config configs/cifar10_resnet18.py --workdir /tmp/c10_r18 \
      --config.data.dir=$HOME/tensorflow_datasets

10 scoring seeds; EL2N and GraNd at initialisation and at epoch 20 (step 7,800), forgetting and
AUM at the end of the 78,000-step run (so the 10 scoring seeds train fully); subsets pruning
10–90% by keep-hardest, the offset band and CCS (cut by AUM, as published), and at random; 4 fresh seeds train the same 78,000 steps
(batch 128, SGD + Nesterov, lr 0.1 ×0.2 at 30/60/80% of the run, weight decay 5e-4) on each.
"""

import ml_collections

from configs import base


def get_config() -> ml_collections.ConfigDict:
  return base.get_config()
