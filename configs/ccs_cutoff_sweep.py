"""CCS's hard cutoff β per pruning rate on CIFAR-10, chosen on a held-out validation split.

CPU scale (the default, on the shared JPEG copy; not timed here: its 15 retrainings of 782 steps
are about as many as the offset sweep's 14, which took 61 minutes on 2 CPU cores):

  python launch.py --config configs/ccs_cutoff_sweep.py --workdir /tmp/datadiet_ccs_sweep

The small CNN; 2 scoring seeds train 2 epochs (782 steps) and give AUM over them; 10% of the
training set is held out for validation; CCS subsets of the rest pruning 50%, 70% and 90%, cut
by AUM at β = 0, 0.1, 0.2, 0.3 and 0.4 and stratified by AUM (as published), are each trained
by 2 fresh seeds for 782 steps. The run's summary.md ends with the β chosen per rate and the
``--config.prune.kwargs.ccs.hard_cutoffs`` override that prunes with them: add it, and
``--config.stages="('pretrain','score','prune','retrain','report')"``, to this command with a
new ``--workdir`` to compare CCS at those βs with random pruning.

The CCS paper's setting (a GPU/TPU job: ResNet18, AUM over a 78,000-step run of 4 seeds):

  python launch.py --config configs/ccs_cutoff_sweep.py:paper --workdir /tmp/ccs_sweep_r18 \
      --config.data.dir=$HOME/tensorflow_datasets
"""

import ml_collections

from configs import _cifar10_dynamics


def get_config(setting: str = 'cpu') -> ml_collections.ConfigDict:
  config = _cifar10_dynamics.base_config(setting, 'ccs_cutoff_sweep', paper_score_step=7_800)
  config.scores.names = ('el2n', 'aum')  # AUM is recorded over the whole pretraining run.
  config.retrain.seeds = (100, 101)
  config.prune.kwargs.ccs.cutoff_score = 'aum'
  config.analyses.ccs_cutoff_sweep.score = 'aum'
  config.analyses.ccs_cutoff_sweep.fractions_pruned = (0.5, 0.7, 0.9)
  config.analyses.ccs_cutoff_sweep.hard_cutoffs = (0.0, 0.1, 0.2, 0.3, 0.4)
  # A later run with the chosen βs (the override the summary prints) and prune/retrain stages
  # prunes the same way: CCS by AUM (computed at the end of pretraining) at the swept rates.
  config.prune.by = (f'aum@{config.optim.budget}',)
  config.prune.methods = ('ccs', 'random')
  config.prune.fractions = config.analyses.ccs_cutoff_sweep.fractions_pruned
  return config
