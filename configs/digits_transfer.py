"""Transfer on the offline digits: scores from small CNNs choose the data an MLP trains on.

  python launch.py --config configs/digits_transfer.py --workdir /tmp/datadiet_transfer

Small CNNs and MLPs (4 seeds each) are scored at initialisation and after 60 steps; MLPs are
retrained on subsets chosen by the CNNs' scores and by their own, and at random. The report adds
``spearman_architectures.json``: how similarly the two architectures rank the examples.
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
  config = default.get_config()
  config.model.name = 'small_cnn'  # Scores come from this architecture...
  config.retrain.model = 'mlp'  # ...and prune the data for this one,
  config.scores.compare_models = ('mlp',)  # which is scored too, for comparison.
  config.scores.names = ('el2n', 'grand', 'random')
  config.prune.by = ('el2n', 'grand', 'mlp:el2n', 'mlp:grand')
  config.prune.methods = ('keep_hardest', 'random')
  return config
