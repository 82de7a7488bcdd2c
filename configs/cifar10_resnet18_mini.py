"""A miniature Figure 1 on one GPU: ResNet18 in bfloat16 on CIFAR-10 (minutes on an H100).

  python launch.py --config configs/cifar10_resnet18_mini.py --workdir /tmp/mini_fig1 \
      --config.data.name=image_folder:../shared/datasets/cifar10_jpeg

4 scoring seeds train 2 epochs of an 8-epoch run (the schedule spans the whole run, as in the
paper's scoring runs, where scores come at epoch 20 of 200), then EL2N and GraNd score every
training image; subsets keep 50% by keep-hardest EL2N, keep-hardest GraNd and at random; 2 fresh
seeds train on each subset and on the full set for a fixed budget of 8 full-set epochs (3,128
steps of 128). Sized to fit one short GPU lease with ``bench/gpu.py``, which runs it and prints
every stage's images/s and the accuracy table; the paper's 200-epoch budget is
``configs/cifar10_resnet18.py``.

``:smoke`` is the same pipeline in miniature for a CPU (a small CNN, a few steps; point
``data.name`` at a small image folder), run by ``bench/gpu.py --smoke`` in the test suite:

  python launch.py --config configs/cifar10_resnet18_mini.py:smoke --workdir /tmp/mini_smoke \
      --config.data.name=image_folder:<folder>
"""

import ml_collections

from configs import cifar10_resnet18

STEPS_PER_EPOCH = 391  # ceil(50,000 / 128).


def get_config(setting: str = 'gpu') -> ml_collections.ConfigDict:
  if setting not in ('gpu', 'smoke'):
    raise ValueError(f"Unknown setting {setting!r}; valid: gpu, smoke.")
  config = cifar10_resnet18.get_config()
  config.data.name = 'image_folder:../shared/datasets/cifar10_jpeg'
  config.model.compute_dtype = 'bfloat16'
  config.pretrain.seeds = (0, 1, 2, 3)
  config.optim.budget = 8 * STEPS_PER_EPOCH
  config.scores.steps = (2 * STEPS_PER_EPOCH,)
  config.scores.names = ('el2n', 'grand')
  config.prune.by = ('el2n', 'grand')
  config.prune.methods = ('keep_hardest', 'random')
  config.prune.fractions = (0.5,)
  config.retrain.seeds = (100, 101)
  config.runtime.checkpoint_every_steps = 0
  config.runtime.log_every_steps = 200
  config.runtime.eval_batch_size = 1000
  config.runtime.score_batch_size = 1000
  if setting == 'smoke':
    config.model.name = 'small_cnn'
    config.optim.batch_size = 16
    config.runtime.eval_batch_size = 64
    config.runtime.score_batch_size = 64
    config.optim.budget = 20
    config.scores.steps = (8,)
    config.runtime.log_every_steps = 5
  return config
