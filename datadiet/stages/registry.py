"""The stages of the pipeline, in the order they run: the one list of them.

Each stage module registers its stage beside its definition
(``STAGE = STAGES.register(Stage(...))``); :mod:`datadiet.stages` imports the modules in
pipeline order, which is the registration order.
``config.stages`` picks which run; each reads the config blocks it declares, and only the
blocks of configured stages bind a workdir (see :mod:`datadiet.workdir`).
"""

from __future__ import annotations

from collections.abc import Iterable

from datadiet.registries import Registry
from datadiet.stages.protocol import Stage

STAGES: Registry[Stage] = Registry('stage', 'stages')

# What the train job (pretraining alone) reads.
TRAIN_JOB_READS = ('data', 'model', 'optim', 'pretrain')


def configured(names: Iterable[str]) -> list[Stage]:
  """The stages named in ``names``, in pipeline order (an unknown name is an InputError)."""
  names = list(names)
  STAGES.check(names)
  return [stage for name, stage in STAGES.items() if name in names]


def reads(config: dict) -> set[str]:
  """The config blocks (and dotted fields) the results of a run of ``config`` (a plain dict, as
  in ``config.json``) depend on: ``job``, ``stages`` and what its stages read."""
  if config.get('job') != 'pipeline':
    return {'job', *TRAIN_JOB_READS}
  known = [name for name in config.get('stages', ()) if name in STAGES]
  return {'job', 'stages'}.union(*(STAGES[name].reads for name in known))
