"""A run's working directory: created if needed, never deleted, bound to one config.

The first launch writes ``config.json``; a later launch into the same directory must carry the
same config (it then resumes), otherwise it is refused before anything is touched — unless told
to continue with the changed config.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from pathlib import Path

import ml_collections
from absl import logging

from datadiet import atomic_files, errors, multihost


# Fields that change how a run executes, not what it computes: they may differ between
# relaunches (and between the processes of one multi-process run).
# The input path is one of them: both paths realise the same batches.
RUNTIME_FIELDS = ('distributed', 'compilation_cache_dir', 'log_every_steps', 'tensorboard',
                  'input_pipeline', 'device_data_max_fraction')


# The pipeline fields a --continue_with_changed_config may change: each only asks for more
# results (new steps, scores, subsets, stages) or changes how they are computed, never what an
# existing one holds. Any other change (the dataset, model, seeds, recipe, a subset's options)
# would leave results in the workdir that the new config's report would mislabel.
ADDITIVE_FIELDS = ('score_steps', 'scores', 'prune_by', 'prune_methods', 'fractions_pruned',
                   'stages', 'compare_models', 'offset_sweep', 'error_barrier', 'ntk_velocity',
                   'eval_batch_size', 'score_batch_size', 'checkpoint_every_steps',
                   'eval_every_steps', 'checkpoint_steps', 'prune_step')


class WorkdirConfigMismatchError(errors.InputError):
  """The workdir holds the results of a different config."""


def _results_fields(config: dict) -> dict:
  return {k: v for k, v in config.items() if k not in RUNTIME_FIELDS}


def results_digest(config: ml_collections.ConfigDict) -> str:
  """A short hash of the config's results fields: equal for configs that compute the same."""
  fields = _results_fields(json.loads(config.to_json()))
  return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def claim(workdir: str | Path, config: ml_collections.ConfigDict,
          allow_config_change: bool = False) -> Path:
  """Creates ``workdir`` or checks that it belongs to ``config``; returns it as a Path.

  With ``allow_config_change`` a workdir of a different config is taken over: the old config is
  kept as ``config.<n>.json``, every result already there is kept as it is, and each stage runs
  again under the new config to compute what it now asks for and is missing (new scoring steps
  re-open pretraining from the checkpoint before them).
  """
  if workdir is None or not str(workdir).strip():
    raise errors.InputError('The workdir is empty (--workdir=); give the directory the run '
                            'writes to, e.g. --workdir=/tmp/datadiet_run.')
  workdir = Path(workdir)
  if workdir.exists() and not workdir.is_dir():
    raise errors.InputError(f'The workdir {workdir} is a file, not a directory; give another '
                            '--workdir.')
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except OSError as e:  # Read-only filesystem, no permission, a file on the way.
    raise errors.InputError(f'Cannot create the workdir {workdir} ({e.strerror or e}); give a '
                            'writable --workdir.') from e
  if not os.access(workdir, os.W_OK | os.X_OK):
    raise errors.NotWritableError(f'The workdir {workdir} is not writable (no permission, or a '
                                  'read-only filesystem); give a writable --workdir.')
  config_path = workdir / 'config.json'
  wanted = json.loads(config.to_json())
  text = json.dumps(wanted, indent=2, sort_keys=True)
  found_text = config_path.read_text() if config_path.exists() else None
  # Every process must have read the old state before process 0 changes it.
  multihost.barrier('claim')
  if found_text is None:
    atomic_files.write_text(config_path, text)
    return workdir
  found, results = _results_fields(json.loads(found_text)), _results_fields(wanted)
  if found == results:
    return workdir
  changed = sorted(k for k in set(found) | set(results) if found.get(k) != results.get(k))
  altering = [k for k in changed if k not in ADDITIVE_FIELDS]
  if allow_config_change and wanted.get('job') == 'pipeline' and altering:
    raise WorkdirConfigMismatchError(
        f'{workdir} holds results that the change of {altering} would contradict: '
        '--continue_with_changed_config only adds to a run (its fields: '
        f'{", ".join(ADDITIVE_FIELDS)}). Use a new --workdir for this config.')
  if not allow_config_change:
    raise WorkdirConfigMismatchError(
        f'{workdir} holds results of a different config (differs in {changed}). Use a new '
        '--workdir, or pass --continue_with_changed_config to keep its finished stages and run '
        'the rest with this config; existing results are never overwritten.')
  previous = next(workdir / f'config.{n}.json' for n in itertools.count(1)
                  if not (workdir / f'config.{n}.json').exists())
  atomic_files.write_text(previous, found_text)
  atomic_files.write_text(config_path, text)
  logging.warning('Continuing %s with a changed config (fields %s); the old one is in %s.',
                  workdir, changed, previous.name)
  return workdir
