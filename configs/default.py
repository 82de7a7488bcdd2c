"""Default: the scoring demo on scikit-learn's digits (offline), 4 seeds of an MLP.

  python launch.py --config configs/default.py --workdir /tmp/datadiet_default

Trains 4 MLPs from different initialisations and data orders for 300 steps, then scores all
1,438 training digits with EL2N, GraNd, forgetting and the baselines (per seed and averaged),
and saves them under ``<workdir>/scores/``. Override any field, e.g. ``--config.budget=600``.
"""

import ml_collections

from configs import train


def get_config() -> ml_collections.ConfigDict:
  config = train.get_config()
  config.job = 'score_demo'
  config.model = 'mlp'
  config.batch_size = 64
  config.budget_unit = 'steps'
  config.budget = 300
  config.learning_rate = 0.05
  config.schedule = 'cosine'
  config.log_every_steps = 100
  config.score_batch_size = 256
  config.scores = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'forgetting', 'input_norm',
                   'random')
  config.random_score_seed = 0
  return config
