"""Transfer on the offline digits: scores from small CNNs choose the data an MLP trains on.

  python launch.py --config configs/digits_transfer.py --workdir /tmp/datadiet_transfer
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
  config = default.get_config()
  config.model = 'small_cnn'  # Scores come from this architecture...
  config.retrain_model = 'mlp'  # ...and prune the data for this one.
  config.scores = ('el2n', 'grand', 'random')
  config.prune_methods = ('keep_hardest', 'random')
  return config
