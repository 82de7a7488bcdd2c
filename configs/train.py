"""Train K seeds as one ensemble (the pipeline's pretraining alone), CPU-sized by default.

  python launch.py --config configs/train.py --workdir /tmp/datadiet_train

Four small CNNs on the offline digits dataset for 10 epochs each, with the paper's optimizer
(``configs/base.py``; the train job reads its data, model, optim, pretrain and runtime blocks).
The paper's CIFAR-10 recipe:

  python launch.py --config configs/train.py --workdir /tmp/r18 --config.data.name=cifar10 \
      --config.model.name=resnet18 --config.optim.budget=78000 \
      --config.optim.budget_unit=steps --config.data.augment=pad_crop_flip
"""

import ml_collections

from configs import base


def get_config() -> ml_collections.ConfigDict:
  config = base.get_config()
  config.job = 'train'
  config.data.name = 'digits'
  config.data.augment = 'none'  # Flipped or shifted 8×8 digits are different digits.
  config.model.name = 'small_cnn'
  config.optim.budget_unit = 'epochs'
  config.optim.budget = 10
  config.pretrain.seeds = (0, 1, 2, 3)
  config.runtime.eval_batch_size = 512
  config.runtime.log_every_steps = 10
  config.runtime.checkpoint_every_steps = 0
  return config
