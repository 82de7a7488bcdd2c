"""One tiny run of the analyses on the digits, shared by their tests."""

import pytest

from configs import default as pipeline_config
from datadiet import experiment

# Small CNN (BatchNorm: the error barrier must recompute statistics), 2 scoring seeds, 40 steps;
# the analyses shrunk to match, with clean labels and with 20% noise. AUM, for the CCS sweep's
# cutoff as published.
OVERRIDES = {
    'stages': ('pretrain', 'score', 'offset_sweep', 'ccs_cutoff_sweep', 'budget_sweep',
               'error_barrier', 'ntk_velocity', 'report'),
    'model.name': 'small_cnn', 'pretrain.seeds': (0, 1), 'optim.budget': 40,
    'runtime.log_every_steps': 20,
    'scores.steps': (20,), 'scores.names': ('el2n', 'aum'), 'prune.by': ('el2n',),
    'retrain.seeds': (100, 101),
    'runtime.tensorboard': False, 'optim.batch_size': 32,
    'analyses.offset_sweep.offsets': (0.0, 0.2, 0.6),
    'analyses.offset_sweep.label_noise_fractions': (0.0, 0.2),
    'analyses.ccs_cutoff_sweep.score': 'el2n', 'prune.kwargs.ccs.cutoff_score': 'aum',
    'prune.kwargs.ccs.num_strata': 5,
    'analyses.ccs_cutoff_sweep.fractions_pruned': (0.3, 0.7),
    'analyses.ccs_cutoff_sweep.hard_cutoffs': (0.0, 0.2, 0.5),
    'analyses.budget_sweep.budgets': (0.5, 1.0),
    'analyses.budget_sweep.fractions_pruned': (0.3, 0.7),
    'analyses.error_barrier.spawn_steps': (0, 20), 'analyses.error_barrier.num_examples': 50,
    'analyses.error_barrier.bn_batches': 2, 'analyses.error_barrier.alphas': (0.0, 0.5, 1.0),
    'analyses.ntk_velocity.checkpoint_steps': (0, 20, 40), 'analyses.ntk_velocity.block_size': 6,
    'analyses.ntk_velocity.num_blocks': 4,
    'analyses.ntk_velocity.label_noise_fractions': (0.0, 0.2),
}


@pytest.fixture(scope='session')
def dynamics_flags():
  """The same run as launch.py flags (on top of ``configs/default.py``)."""
  return [f'--config.{key}={value if isinstance(value, str) else repr(value)}'
          for key, value in OVERRIDES.items()]


@pytest.fixture(scope='session')
def dynamics_run(tmp_path_factory):
  """``(workdir, context)`` of a finished run of every analysis."""
  workdir = tmp_path_factory.mktemp('dynamics')
  config = pipeline_config.get_config()
  config.update_from_flattened_dict(OVERRIDES)
  return workdir, experiment.run(config, workdir)
