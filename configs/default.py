"""Default: the whole data-diet pipeline on the offline digits (≈ 2 minutes on 2 CPU cores).

  python launch.py --config configs/default.py --workdir /tmp/datadiet_default

Stages pretrain → score → prune → retrain → report. 4 MLP seeds are scored at initialisation
and after 60 steps; subsets keep 70%, 50% and 30% of the 1,438 training digits by EL2N and
GraNd (keep-hardest, offset, class-balanced, CCS) or at random; 2 fresh seeds train 300 steps on
each subset and on the full set (the paper's fixed *step* budget); results, plots and
``summary.md`` land in the workdir.
"""

import ml_collections

from configs import train


def get_config() -> ml_collections.ConfigDict:
  config = train.get_config()
  config.job = 'pipeline'
  config.stages = ('pretrain', 'score', 'prune', 'retrain', 'report')
  config.model = 'mlp'
  config.batch_size = 64
  config.budget_unit = 'steps'
  config.budget = 300
  config.learning_rate = 0.05
  config.schedule = 'cosine'
  config.log_every_steps = 100
  # Scoring: K seeds, at these steps of their run (0 = initialisation).
  config.seeds = (0, 1, 2, 3)
  config.score_steps = (0, 60)
  config.scores = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'input_norm', 'random')
  config.score_batch_size = 512
  config.random_score_seed = 0
  # Other architectures scored the same way, to compare rankings across models (transfer).
  config.compare_models = ()
  # Pruning: '<score>' (at prune_step), '<score>@<step>', or '<model>:<score>[@<step>]' to prune
  # by the scores of one of compare_models.
  config.prune_by = ('el2n', 'grand')
  config.prune_step = ml_collections.config_dict.placeholder(int)  # Default: last score step.
  config.prune_methods = ('keep_hardest', 'offset', 'class_balanced', 'ccs', 'random')
  config.fractions_pruned = (0.3, 0.5, 0.7)
  config.offset_fraction = 0.02  # 'offset' also drops this fraction of the hardest examples.
  config.ccs_num_strata = 50
  config.ccs_hard_cutoff = 0.02
  config.prune_seed = 0
  # Retraining: fresh seeds, disjoint from the scoring seeds; another model for transfer.
  config.retrain_seeds = (100, 101)
  config.retrain_model = ml_collections.config_dict.placeholder(str)  # Default: config.model.
  return config
