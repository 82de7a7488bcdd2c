"""When keeping the hardest pays: Figure 1's bottom panel at several training budgets (a GPU job).

  python launch.py --config configs/cifar10_budget_sweep.py --workdir /tmp/c10_budgets \
      --config.analyses.budget_sweep.budgets="(2.5,)"

``configs/cifar10_figure1.py``'s recipe and scoring seeds (airbench94, 4 seeds, EL2N after one
epoch), then the ``budget_sweep`` stage: 10% of CIFAR-10's training set held out for
validation; at each retraining budget (2.5, 5, 10 and 20 full-set epochs: every subset trains
as many steps as the full set would) and each fraction pruned (10–90%), subsets of the rest by
random pruning, keep-hardest, the offset band and CCS (strata of EL2N, the hardest by AUM cut),
4 fresh seeds each. The report draws the phase diagram (budget × fraction → each method minus
random) and names, per cell, the method chosen on the validation split, with the override that
prunes with it.

Run one budget per lease (each ~20 runs × 4 seeds), then add the next to the same workdir:

  python launch.py --config configs/cifar10_budget_sweep.py --workdir /tmp/c10_budgets \
      --config.analyses.budget_sweep.budgets="(2.5, 5.0)" --continue_with_changed_config

``:smoke`` is the same pipeline in miniature for a CPU (≈ 1 minute on 2 cores for a folder of
~1,400 16×16 images, e.g. ``bench/gpu.py --smoke``'s digits):

  python launch.py --config configs/cifar10_budget_sweep.py:smoke --workdir /tmp/budgets_smoke \
      --config.data.name=image_folder:<folder>
"""

import ml_collections

from configs import cifar10_figure1


def get_config(setting: str = 'gpu') -> ml_collections.ConfigDict:
  if setting not in ('gpu', 'smoke'):
    raise ValueError(f'Unknown setting {setting!r}; valid: gpu, smoke.')
  config = cifar10_figure1.get_config(setting)
  config.stages = ('pretrain', 'score', 'budget_sweep', 'report')
  sweep = config.analyses.budget_sweep
  sweep.by = config.prune.by[0]  # EL2N early in training, as Figure 1's bottom panel.
  sweep.methods = ('random', 'keep_hardest', 'offset', 'ccs')
  if setting == 'gpu':
    sweep.budgets = (2.5, 5.0, 10.0, 20.0)
    sweep.fractions_pruned = (0.1, 0.3, 0.5, 0.7, 0.9)
  else:
    sweep.budgets = (0.25, 0.5)
    sweep.fractions_pruned = (0.5,)
  return config
