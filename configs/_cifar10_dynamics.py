"""The common start of the training-dynamics configs on CIFAR-10 (a helper, not a config)."""

import ml_collections

from configs import cifar10_cpu, cifar10_resnet18

SETTINGS = ('cpu', 'paper')


def base_config(setting: str, stage: str, paper_score_step: int) -> ml_collections.ConfigDict:
  """``'cpu'``: the CPU-scale study's data and small CNN, 782 steps (2 epochs), EL2N of 2 seeds
  after 1 epoch. ``'paper'``: the paper's ResNet18 protocol, EL2N of 4 seeds at
  ``paper_score_step``. Both run pretrain, score, ``stage`` and report."""
  if setting not in SETTINGS:
    raise ValueError(f'Unknown setting {setting!r}; valid: {", ".join(SETTINGS)}.')
  if setting == 'cpu':
    config = cifar10_cpu.get_config()
    config.optim.budget = 782  # 2 epochs of the full training set.
    config.runtime.checkpoint_every_steps = 0
    config.pretrain.seeds = (0, 1)
    config.scores.steps = (391,)  # Epoch 1.
  else:
    config = cifar10_resnet18.get_config()
    config.pretrain.seeds = (0, 1, 2, 3)
    config.scores.steps = (paper_score_step,)
  config.stages = ('pretrain', 'score', stage, 'report')
  config.scores.names = ('el2n',)
  config.prune.by = ('el2n',)
  return config
