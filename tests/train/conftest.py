"""A tiny training config on the offline digits dataset."""

import pytest

from configs import train


@pytest.fixture
def tiny_config():
  config = train.get_config()
  config.model = 'mlp'
  config.seeds = (0, 1)
  config.seed_strategy = 'vmap'
  config.augment = False
  config.batch_size = 32
  config.budget_unit = 'steps'
  config.budget = 12
  config.learning_rate = 0.05
  config.schedule = 'cosine'
  config.log_every_steps = 4
  config.tensorboard = False
  return config
