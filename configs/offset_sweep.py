"""Offset sweep on CIFAR-10: which window of the score ranking trains best, clean vs noisy labels.

CPU scale (the default, about an hour on 2 CPU cores, on the shared JPEG copy):

  python launch.py --config configs/offset_sweep.py --workdir /tmp/datadiet_offset_sweep

The small CNN; 2 scoring seeds give EL2N after 1 epoch (step 391) of a 2-epoch run; 10% of the
training set is held out for validation; windows keeping 40% of the rest start after dropping
0–60% of the hardest (and one random window), 2 fresh seeds train each for 782 steps (2 epochs of
the full set, 5 of a window); all of it with clean labels and with 10% of the labels corrupted.

The paper's setting (a GPU/TPU job: ResNet18, EL2N at epoch 10 from 4 seeds, 78,000 steps):

  python launch.py --config configs/offset_sweep.py:paper --workdir /tmp/offset_sweep_r18 \
      --config.data.dir=$HOME/tensorflow_datasets
"""

import ml_collections

from configs import _cifar10_dynamics


def get_config(setting: str = 'cpu') -> ml_collections.ConfigDict:
  # The paper scores at epoch 10.
  config = _cifar10_dynamics.base_config(setting, 'offset_sweep', paper_score_step=3_900)
  config.retrain.seeds = (100, 101)
  if setting == 'cpu':
    config.analyses.offset_sweep.offsets = (0.0, 0.02, 0.05, 0.1, 0.3, 0.6)
  else:
    config.analyses.offset_sweep.offsets = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6)
  config.analyses.offset_sweep.fraction_kept = 0.4
  config.analyses.offset_sweep.label_noise_fractions = (0.0, 0.1)
  return config
