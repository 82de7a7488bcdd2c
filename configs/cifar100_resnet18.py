"""CIFAR-100 / ResNet18: the paper's protocol on 100 classes (a GPU/TPU job).

  python launch.py --config configs/cifar100_resnet18.py --workdir /tmp/c100_r18 \
      --config.data.dir=$HOME/tensorflow_datasets
"""

import ml_collections

from configs import cifar10_resnet18


def get_config() -> ml_collections.ConfigDict:
  config = cifar10_resnet18.get_config()
  config.data.name = 'cifar100'
  # The paper prunes CIFAR-100 less aggressively: ~25% at ~1% accuracy cost.
  config.prune.fractions = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5)
  return config
