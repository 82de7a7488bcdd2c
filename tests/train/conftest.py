"""A tiny training config on the offline digits dataset."""

import pytest

from configs import train


@pytest.fixture
def tiny_config():
  config = train.get_config()
  config.model.name = 'mlp'
  config.pretrain.seeds = (0, 1)
  config.runtime.seed_strategy = 'vmap'
  config.data.augment = 'none'
  config.optim.batch_size = 32
  config.optim.budget_unit = 'steps'
  config.optim.budget = 12
  config.optim.learning_rate = 0.05
  config.optim.schedule = 'cosine'
  config.runtime.log_every_steps = 4
  config.runtime.tensorboard = False
  return config
