"""CIFAR-10 / ResNet50 (CIFAR stem): the paper's protocol with the larger network.

  python launch.py --config configs/cifar10_resnet50.py --workdir /tmp/c10_r50 \
      --config.data.dir=$HOME/tensorflow_datasets
"""

import ml_collections

from configs import cifar10_resnet18


def get_config() -> ml_collections.ConfigDict:
  config = cifar10_resnet18.get_config()
  config.model.name = 'resnet50'
  return config
