"""The paper's Figure 1 on the fast CIFAR-10 recipe (airbench94), in one command (a GPU job).

  python launch.py --config configs/cifar10_figure1.py --workdir /tmp/c10_figure1

Paul et al.'s Figure 1 with ``configs/cifar10_airbench.py``'s recipe in place of 200 epochs of
ResNet18: 4 scoring seeds train the whole 476-step run, scored by EL2N and GraNd at
initialisation and after 0.5, 1, 2 and 3 epochs (steps 24, 48, 96, 144), and by forgetting and
AUM over the whole run. Bottom panel: subsets pruning 10/30/50/70/90% by keep-hardest and by
CCS (strata of the score, the hardest by AUM cut), by EL2N and GraNd after 1 epoch (the paper's
epoch 20 of 200 is a tenth of its run; 48 steps are a tenth of this one), GraNd at
initialisation, forgetting and AUM, and at random. Top panel: half the data pruned by
keep-hardest EL2N and GraNd from each scoring step. 4 fresh seeds train the same 476 steps on
every subset and on the full set; the report draws ``figure1.png`` (mean and 16th–84th
percentile band over the 4) and prints its tables.

The scoring seeds train with the recipe's label smoothing (0.2), which flattens the softmax
that EL2N reads; ``--config.pretrain.label_smoothing=0.0`` scores without it (a new workdir).

``:smoke`` is the same pipeline in miniature for a CPU (≈ 40 s on 2 cores for a folder
of ~1,400 16×16 images, e.g. ``bench/gpu.py --smoke``'s digits): a tiny airbench, 2 scoring
and 2 retraining seeds, 16 steps, two fractions:

  python launch.py --config configs/cifar10_figure1.py:smoke --workdir /tmp/figure1_smoke \
      --config.data.name=image_folder:<folder>
"""

import ml_collections

from configs import cifar10_airbench

EPOCH = 48  # airbench's steps per epoch (full batches of 1,024 of CIFAR-10's 50,000).


def _figure1(config: ml_collections.ConfigDict, early: int, steps: tuple[int, ...],
             fractions: tuple[float, ...]) -> None:
  """Figure 1's scores, subsets and panels over the run's budget: bottom by scores at
  ``early`` (and GraNd at 0, forgetting and AUM at the end) at ``fractions``; top by EL2N and
  GraNd at each of ``steps``, half pruned."""
  end = config.optim.budget
  config.scores.names = ('el2n', 'grand', 'forgetting', 'aum', 'random')
  config.scores.steps = tuple(sorted({0, early, *steps}))
  config.prune.by = (f'el2n@{early}', f'grand@{early}', 'grand@0', f'forgetting@{end}',
                     f'aum@{end}')
  config.prune.methods = ('keep_hardest', 'ccs', 'random')
  config.prune.fractions = fractions
  config.prune.extra = tuple(('keep_hardest', f'{score}@{step}', 0.5)
                             for score in ('el2n', 'grand') for step in config.scores.steps)
  config.prune.extra += (('random', '', 0.5),)  # The top panel's reference.
  config.prune.kwargs.ccs.cutoff_score = 'aum'


def get_config(setting: str = 'gpu') -> ml_collections.ConfigDict:
  if setting not in ('gpu', 'smoke'):
    raise ValueError(f'Unknown setting {setting!r}; valid: gpu, smoke.')
  config = cifar10_airbench.get_config(setting)
  config.job = 'pipeline'
  config.stages = ('pretrain', 'score', 'prune', 'retrain', 'report')
  config.retrain.seeds = (100, 101, 102, 103)
  if setting == 'gpu':
    _figure1(config, early=EPOCH, steps=(EPOCH // 2, 2 * EPOCH, 3 * EPOCH),
             fractions=(0.1, 0.3, 0.5, 0.7, 0.9))
  else:
    config.model.kwargs.widths = (4, 8, 8)
    config.optim.budget = 16
    config.optim.lookahead.every_steps = 4
    config.retrain.seeds = (100, 101)
    config.runtime.log_every_steps = 8
    _figure1(config, early=4, steps=(8,), fractions=(0.3, 0.7))
  return config
