"""A run's working directory: created if needed, never deleted, bound to one config.

The first launch writes ``config.json``; a later launch into the same directory must carry the
same config (it then resumes), otherwise it is refused before anything is touched — unless told
to continue with the changed config. A run holds ``<workdir>/.lock`` while it lives: a second run
launched into the same workdir meanwhile is refused, naming the process that holds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import ml_collections
from absl import logging

from datadiet import atomic_files, errors, multihost


# The fields a --continue_with_changed_config may change (dotted; a block stands for all its
# fields): each only asks for more results (new steps, scores, subsets, stages) or changes an
# analysis that runs again, never what an existing result holds. Any other change (the dataset,
# model, seeds, recipe, a subset's options) would leave results in the workdir that the new
# config's report would mislabel. The runtime block never binds a workdir at all.
ADDITIVE_FIELDS = ('stages', 'scores.steps', 'scores.names', 'scores.compare_models', 'prune.by',
                   'prune.methods', 'prune.fractions', 'prune.step', 'prune.extra', 'analyses')

# Reads: the blocks (or dotted fields) a config's results depend on, from a plain dict config.
ReadsFn = Callable[[dict], Iterable[str]]


class WorkdirConfigMismatchError(errors.InputError):
  """The workdir holds the results of a different config."""


class WorkdirInUseError(errors.InputError):
  """Another run is writing to the workdir."""


# Workdirs this process holds the lock of, by resolved path: a lock lasts as long as the process
# (a later claim of the same workdir by this process reuses it).
_LOCKS: dict[Path, Any] = {}


def _lock(workdir: Path) -> None:
  """Takes ``<workdir>/.lock`` for this process, or raises WorkdirInUseError naming the process
  that holds it: two runs writing one workdir would corrupt each other's checkpoints."""
  key = workdir.resolve()
  if key in _LOCKS or not multihost.is_writer():  # Process 0 holds it for a multi-process run.
    return
  handle = open(workdir / '.lock', 'a+')  # pylint: disable=consider-using-with
  try:
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError as e:
    handle.seek(0)
    holder = handle.read().strip() or 'another process'
    handle.close()
    raise WorkdirInUseError(
        f'{workdir} is in use by another run ({holder}); wait for it to finish or stop it, '
        'then relaunch (it resumes where the other run stopped).') from e
  handle.seek(0)
  handle.truncate()
  handle.write(f'process {os.getpid()} on {socket.gethostname()}')
  handle.flush()
  _LOCKS[key] = handle


def flatten(config: dict, prefix: str = '') -> dict[str, Any]:
  """``{'optim.batch_size': 128, ...}``: every leaf of a nested dict config (an empty block is
  a leaf)."""
  fields = {}
  for key, value in config.items():
    if isinstance(value, dict) and value:
      fields.update(flatten(value, f'{prefix}{key}.'))
    else:
      fields[prefix + key] = value
  return fields


def _within(field: str, blocks: Iterable[str]) -> bool:
  return any(field == b or field.startswith(f'{b}.') for b in blocks)


def is_additive(field: str) -> bool:
  """Whether ``--continue_with_changed_config`` may change the dotted ``field`` (it is in
  :data:`ADDITIVE_FIELDS`)."""
  return _within(field, ADDITIVE_FIELDS)


def results_fields(config: dict, reads: Iterable[str]) -> dict[str, Any]:
  """The fields of ``config`` (a plain dict) inside the blocks ``reads``."""
  reads = tuple(reads)
  return {k: v for k, v in flatten(config).items() if _within(k, reads)}


def results_digest(config: ml_collections.ConfigDict, reads: Iterable[str]) -> str:
  """A short hash of the fields in ``reads``: equal for configs that compute the same there."""
  fields = results_fields(json.loads(config.to_json()), reads)
  return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def changed_fields(found: dict, wanted: dict, reads_of: ReadsFn) -> list[str]:
  """The dotted fields that differ between two configs within the blocks both read."""
  both = set(reads_of(found)) & set(reads_of(wanted))
  old, new = results_fields(found, both), results_fields(wanted, both)
  missing = object()
  return sorted(k for k in set(old) | set(new) if old.get(k, missing) != new.get(k, missing))


# Blocks whose fields a config file chooses (an architecture's arguments, parameter groups): a
# field inside them that an old config lacks is a change, not a field added since.
_USER_BLOCKS = ('model.kwargs', 'optim.param_groups')


def newer_fields(found: dict, changed: Iterable[str]) -> list[str]:
  """The ``changed`` fields that ``found`` (an older run's config) lacks although it has the
  block around them: fields this version added to its configs since that run."""
  old = flatten(found)
  blocks = {k.rsplit('.', 1)[0] for k in old if '.' in k}
  return [k for k in changed if k not in old and '.' in k and k.rsplit('.', 1)[0] in blocks
          and not any(k.startswith(f'{b}.') for b in _USER_BLOCKS)]


DATASET_FILE = 'dataset.json'


class WorkdirDatasetMismatchError(errors.InputError):
  """The dataset changed since the workdir's run began."""


def check_dataset(workdir: str | Path, fingerprint: dict[str, Any]) -> None:
  """Raises WorkdirDatasetMismatchError if ``workdir`` holds a run of other data than
  ``fingerprint`` describes (:func:`datadiet.data.dataset.fingerprint`): resuming it would mix
  two datasets in one run. Reads only; a workdir without the record (new, or older than it)
  passes."""
  path = Path(workdir) / DATASET_FILE
  if not path.is_file():
    return
  recorded = json.loads(path.read_text())
  if recorded == fingerprint:
    return
  changes = [f'{key.replace("_", " ")} {recorded.get(key)} → {fingerprint[key]}'
             for key in ('name', 'train_examples', 'test_examples')
             if recorded.get(key) != fingerprint[key]] or ['the same sizes, other ids or labels']
  raise WorkdirDatasetMismatchError(
      f'The dataset changed since the run in {workdir} began ({"; ".join(changes)}); restore '
      f'it (e.g. replace an unreadable image with a readable copy), or start a new workdir.')


def record_dataset(workdir: Path, fingerprint: dict[str, Any]) -> None:
  """Keeps ``fingerprint`` in the claimed ``workdir`` for :func:`check_dataset` (every process
  calls it: the same bytes are left as they are)."""
  atomic_files.write_json(workdir / DATASET_FILE, fingerprint)


def claim(workdir: str | Path, config: ml_collections.ConfigDict, reads_of: ReadsFn,
          allow_config_change: bool = False) -> Path:
  """Creates ``workdir`` or checks that it belongs to ``config``; returns it as a Path.

  Only the blocks ``reads_of(config)`` names (those its job's stages read) bind the workdir: a
  change elsewhere (an analysis the run does not include, logging, checkpoint cadence, caches,
  evaluation batch sizes) resumes the run as it is.

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
  _lock(workdir)
  config_path = workdir / 'config.json'
  wanted = json.loads(config.to_json())
  text = json.dumps(wanted, indent=2, sort_keys=True)
  found_text = config_path.read_text() if config_path.exists() else None
  # Every process must have read the old state before process 0 changes it.
  multihost.barrier('claim')
  if found_text is None:
    atomic_files.write_text(config_path, text)
    return workdir
  found = json.loads(found_text)
  if not isinstance(found, dict) or not isinstance(found.get('data'), dict):
    raise WorkdirConfigMismatchError(
        f'{config_path} is not a config this version of datadiet reads (it has no data block), '
        'so the results there cannot be resumed. Use a new --workdir.')
  changed = changed_fields(found, wanted, reads_of)
  if not changed:
    return workdir
  newer = newer_fields(found, changed)
  if newer:  # Fields this version has and the run's never had: its state lacks them too.
    raise WorkdirConfigMismatchError(
        f'{workdir} holds a run of an older datadiet, whose config has no {newer} (fields added '
        'since): this version cannot resume it. Use a new --workdir.')
  altering = [k for k in changed if not _within(k, ADDITIVE_FIELDS)]
  if allow_config_change and wanted.get('job') == 'pipeline' and altering:
    raise WorkdirConfigMismatchError(
        f'{workdir} holds results that the change of {altering} would contradict: '
        '--continue_with_changed_config only adds to a run (its fields: '
        f'{", ".join(ADDITIVE_FIELDS)}). Use a new --workdir for this config.')
  if not allow_config_change:
    old, new = flatten(found), flatten(wanted)
    values = '; '.join(f'{k}: {old.get(k)!r} there, {new.get(k)!r} here' for k in changed)
    if wanted.get('job') == 'pipeline' and altering:
      fix = (f'Use a new --workdir: a change of {altering} would contradict the results there '
             '(--continue_with_changed_config only adds to a run).')
    else:
      fix = ('Use a new --workdir, or pass --continue_with_changed_config to keep its results '
             'and compute what this config adds; existing results are never overwritten.')
    raise WorkdirConfigMismatchError(
        f'{workdir} holds results of a different config (differs in {changed}: {values}). {fix}')
  previous = next(workdir / f'config.{n}.json' for n in itertools.count(1)
                  if not (workdir / f'config.{n}.json').exists())
  atomic_files.write_text(previous, found_text)
  atomic_files.write_text(config_path, text)
  logging.warning('Continuing %s with a changed config (fields %s); the old one is in %s.',
                  workdir, changed, previous.name)
  return workdir
