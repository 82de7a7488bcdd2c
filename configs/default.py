"""Default: the whole data-diet pipeline on the offline digits (≈ 40 s on 2 CPU cores).

  python launch.py --config configs/default.py --workdir /tmp/datadiet_default

Stages pretrain → score → prune → retrain → report. 4 MLP seeds are scored at initialisation
and after 60 steps; subsets keep 70%, 50% and 30% of the 1,438 training digits by EL2N and
GraNd (keep-hardest, offset, class-balanced, CCS) or at random; 2 fresh seeds train 300 steps on
each subset and on the full set (the paper's fixed *step* budget); results, plots and
``summary.md`` land in the workdir. The paper's protocol, of which this is a miniature, is
``configs/base.py``; every field is described there.
"""

import ml_collections

from configs import base


def get_config() -> ml_collections.ConfigDict:
  config = base.get_config()
  config.data.name = 'digits'
  # Off: flipped or shifted 8×8 digits are different digits.
  config.data.augment = 'none'
  config.model.name = 'mlp'
  config.optim.batch_size = 64
  config.optim.budget = 300
  config.optim.learning_rate = 0.05
  config.optim.schedule = 'cosine'
  config.pretrain.seeds = (0, 1, 2, 3)
  config.scores.names = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'input_norm', 'random')
  config.scores.steps = (0, 60)
  config.prune.by = ('el2n', 'grand')
  config.prune.methods = ('keep_hardest', 'offset', 'class_balanced', 'ccs', 'random')
  config.prune.fractions = (0.3, 0.5, 0.7)
  config.prune.kwargs.offset.fraction = 0.02
  # CCS cuts the hardest by the stratified score itself (AUM, base.py's cutoff, needs the whole
  # training budget).
  config.prune.kwargs.ccs.cutoff_score = ''
  config.prune.kwargs.ccs.hard_cutoffs = ()
  config.retrain.seeds = (100, 101)
  # The training-dynamics analyses (run when named in config.stages), sized for the digits;
  # configs/offset_sweep.py, error_barrier.py and ntk_velocity.py run them on CIFAR-10.
  analyses = config.analyses
  analyses.offset_sweep.offsets = (0.0, 0.05, 0.1, 0.2, 0.4, 0.6)
  analyses.error_barrier.spawn_steps = (0, 5, 20, 60)
  analyses.error_barrier.num_examples = 100
  analyses.error_barrier.bn_batches = 8
  analyses.ntk_velocity.checkpoint_steps = (0, 20, 60, 150, 300)
  analyses.ntk_velocity.block_size = 20
  analyses.ntk_velocity.num_blocks = 10
  config.runtime.eval_batch_size = 512
  config.runtime.score_batch_size = 512
  config.runtime.checkpoint_every_steps = 0
  return config
