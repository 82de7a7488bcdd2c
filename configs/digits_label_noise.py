"""Label noise on the offline digits: do the scores find the corrupted labels, and does the
offset band (dropping the very hardest) help?

  python launch.py --config configs/digits_label_noise.py --workdir /tmp/datadiet_noise

20% of the training labels are replaced by a different random class (mask saved by id in
``label_noise.npz``); the report adds AUROC and precision@k of every score for finding them, and
clean-vs-noisy score histograms.
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
  config = default.get_config()
  config.data.label_noise_fraction = 0.2
  config.data.label_noise_seed = 0
  config.scores.names = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'input_norm', 'random')
  config.prune.by = ('el2n',)
  config.prune.methods = ('keep_hardest', 'offset', 'ccs', 'random')
  # Drop as many of the hardest as there are noisy labels.
  config.prune.kwargs.offset.fraction = 0.2
  config.prune.kwargs.ccs.hard_cutoff = 0.2
  return config
