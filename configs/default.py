"""Default: the scoring demo on scikit-learn's digits (offline), 4 seeds of an MLP.

  python launch.py --config configs/default.py --workdir /tmp/datadiet_default

Trains 4 MLPs from different initialisations and data orders for 300 steps, then scores all
1,438 training digits with EL2N, GraNd, forgetting and the baselines (per seed and averaged),
and saves them under ``<workdir>/scores/``. Override any field, e.g. ``--config.num_seeds=8``.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.dataset = 'digits'
  config.model = 'mlp'
  config.num_seeds = 4
  # 'vmap' batches the seeds (fast for MLPs); 'map' loops over them inside one program, which
  # keeps convolutions ordinary (use it for CNNs).
  config.seed_strategy = 'vmap'
  config.train_steps = 300
  config.batch_size = 64
  config.learning_rate = 0.05
  config.score_batch_size = 256
  config.scores = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'forgetting', 'input_norm',
                   'random')
  config.random_score_seed = 0
  return config
