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
  config.score_dtype = 'float32'  # Scores of a bfloat16-trained run are still float32 passes.
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
  # Training-dynamics analyses, run when named in config.stages (sized for the digits here; see
  # configs/offset_sweep.py, error_barrier.py and ntk_velocity.py for CIFAR-10).
  # Offset sweep: windows of `fraction_kept` of the training pool (a validation split held out)
  # after dropping the `offsets` (fractions) hardest by score@step, retrained with retrain_seeds.
  config.offset_sweep = ml_collections.ConfigDict(dict(
      score='el2n', step=ml_collections.config_dict.placeholder(int),  # Default: last score step.
      fraction_kept=0.4, offsets=(0.0, 0.05, 0.1, 0.2, 0.4, 0.6), random_window=True,
      validation_fraction=0.1, validation_seed=0, label_noise_fractions=(0.0, 0.1)))
  # Error barriers: children of parent_seed spawned at spawn_steps, trained to the end with
  # child_seeds' data orders; training error along alphas on the num_examples highest-, lowest-
  # and random-score examples, BatchNorm statistics recomputed from bn_batches batches.
  config.error_barrier = ml_collections.ConfigDict(dict(
      score='el2n', step=ml_collections.config_dict.placeholder(int),
      spawn_steps=(0, 5, 20, 60), parent_seed=0, child_seeds=(1000, 1001),
      num_examples=100, subset_seed=0, alphas=(0.0, 0.25, 0.5, 0.75, 1.0), bn_batches=8))
  # NTK velocity: num_blocks blocks of block_size consecutive examples in the score@step ranking,
  # their Gram matrices at checkpoint_steps of network `seed`. method: 'auto' materialises the
  # per-example Jacobian when it fits in max_jacobian_mb, else uses Jacobian-vector products.
  config.ntk_velocity = ml_collections.ConfigDict(dict(
      score='el2n', step=ml_collections.config_dict.placeholder(int),
      seed=0, checkpoint_steps=(0, 20, 60, 150, 300), block_size=20, num_blocks=10,
      method='auto', max_jacobian_mb=1024, chunk_size=16, label_noise_fractions=(0.0, 0.1)))
  return config
