"""Score files: per-example scores saved keyed by stable example ids, validated on load.

A score file is an ``.npz`` holding

* ``ids``: the example ids (integers, or strings such as file names), one per example;
* ``per_seed``: float32 ``(K, N)``, the score from each of K models;
* ``score``: float32 ``(N,)``, their mean (what pruning ranks by);
* ``metadata``: a JSON string with at least ``score``, ``dataset``, ``model``, ``step`` and
  ``seeds``.

Positions mean nothing: :func:`load_scores` aligns the file to the ids you pass and refuses a
file whose ids do not match the dataset exactly. Writes go to a temporary file in the same
folder and are renamed into place, so a crash never leaves a half-written score file.

Example::

  save_scores(workdir / 'el2n.npz', ids, per_seed, score='el2n', dataset='cifar10',
              model='resnet18', step=7800, seeds=[0, 1, 2, 3])
  scores = load_scores(workdir / 'el2n.npz', ids=train_ids, dataset='cifar10', score='el2n')
  scores.score   # (N,) in the order of train_ids
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datadiet import atomic_files, errors

REQUIRED_METADATA = ('score', 'dataset', 'model', 'step', 'seeds')


class ScoreFileError(errors.InputError):
  """A score file is missing, malformed, or does not match the dataset it is used with."""


@dataclasses.dataclass(frozen=True)
class ScoreFile:
  """Scores of one kind for a set of examples, keyed by id."""
  ids: np.ndarray
  per_seed: np.ndarray
  score: np.ndarray
  metadata: dict[str, Any]

  def aligned_to(self, ids: Sequence[Any] | np.ndarray, source: str = 'score file') -> ScoreFile:
    """The same scores reordered to follow ``ids``, which must be exactly this file's id set."""
    ids = np.asarray(ids)
    _check_unique(ids, 'the dataset')
    if ids.dtype.kind != self.ids.dtype.kind and {ids.dtype.kind, self.ids.dtype.kind} != {
        'i', 'u'}:
      raise ScoreFileError(f'{source} has ids of type {self.ids.dtype} but the dataset has ids '
                           f'of type {ids.dtype}: it was made for another dataset.')
    position = {key: i for i, key in enumerate(self.ids.tolist())}
    missing = [key for key in ids.tolist() if key not in position]
    extra_count = len(self.ids) - (len(ids) - len(missing))
    if missing or extra_count:
      extra = sorted(set(self.ids.tolist()) - set(ids.tolist()))[:5]
      raise ScoreFileError(
          f'{source} does not match the dataset: {len(missing)} of its {len(ids)} examples have '
          f'no score (e.g. {missing[:5]}) and {extra_count} scored ids are not in it '
          f'(e.g. {extra}). Score files are keyed by example id; recompute the scores for this '
          'dataset.')
    order = np.array([position[key] for key in ids.tolist()], dtype=np.int64)
    return ScoreFile(ids=ids, per_seed=self.per_seed[:, order], score=self.score[order],
                     metadata=self.metadata)


def _check_unique(ids: np.ndarray, where: str) -> None:
  values, counts = np.unique(ids, return_counts=True)
  if np.any(counts > 1):
    raise ScoreFileError(f'{where} lists {int(np.sum(counts > 1))} example ids more than once '
                         f'(e.g. {values[counts > 1][:5].tolist()}).')


def save_scores(path: str | os.PathLike, ids: Sequence[Any] | np.ndarray,
                per_seed: np.ndarray, **metadata: Any) -> ScoreFile:
  """Saves ``per_seed`` scores ``(K, N)`` (or ``(N,)`` for one seed) keyed by ``ids``.

  ``metadata`` must include ``score``, ``dataset``, ``model``, ``step`` and ``seeds`` and be
  JSON-serialisable; anything else is kept too.
  """
  ids = np.asarray(ids)
  per_seed = np.asarray(per_seed, dtype=np.float32)
  if per_seed.ndim == 1:
    per_seed = per_seed[None]
  if per_seed.ndim != 2 or per_seed.shape[1] != len(ids):
    raise ScoreFileError(f'per_seed must be (seeds, {len(ids)}) to match the ids, got '
                         f'{per_seed.shape}.')
  missing = [key for key in REQUIRED_METADATA if key not in metadata]
  if missing:
    raise ScoreFileError(f'score file metadata lacks {missing}; required: {REQUIRED_METADATA}.')
  _check_unique(ids, 'the ids to save')
  if not np.all(np.isfinite(per_seed)):
    raise ScoreFileError(f'{int(np.sum(~np.isfinite(per_seed)))} scores are not finite; '
                         'refusing to save them.')
  scores = ScoreFile(ids=ids, per_seed=per_seed, score=per_seed.mean(axis=0),
                     metadata=dict(metadata))
  atomic_files.write_npz(path, ids=ids, per_seed=per_seed, score=scores.score,
                         metadata=np.array(json.dumps(metadata, sort_keys=True)))
  return scores


def load_scores(path: str | os.PathLike, *, ids: Sequence[Any] | np.ndarray | None = None,
                dataset: str | None = None, score: str | None = None, step: int | None = None,
                model: str | None = None, seeds: Sequence[int] | None = None) -> ScoreFile:
  """Loads a score file, checks it against what the caller expects, and aligns it to ``ids``.

  Every expectation given (``dataset``, ``score``, ``step``, ``model``, ``seeds``) must match the
  file's metadata: a file of another step or ensemble is refused, never used in its place.

  Raises:
    FileNotFoundError: no file at ``path``.
    ScoreFileError: malformed file (unreadable, not JSON metadata, scores not ``(seeds, N)``
      or not finite); another dataset, score, step, model or seeds; ids missing, extra or
      duplicated.
  """
  path = Path(path)
  if not path.is_file():
    raise errors.MissingInputError(f'No score file at {path}.')
  if path.suffix != '.npz':  # np.load would return a bare array for a .npy.
    raise ScoreFileError(f'{path} is not a score file (.npz keyed by id); a positional .npy is '
                         'read with datadiet.interop.import_positional.')
  try:
    with np.load(path, allow_pickle=False) as data:
      contents = {key: data[key] for key in ('ids', 'per_seed', 'score', 'metadata')}
    metadata = json.loads(str(contents['metadata']))
  except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
    raise ScoreFileError(f'{path} is not a valid score file ({type(e).__name__}: {e}); delete '
                         'it to recompute it.') from e
  per_seed, mean = contents['per_seed'], contents['score']
  num = len(contents['ids'])
  if per_seed.ndim != 2 or per_seed.shape[1] != num or mean.shape != (num,):
    raise ScoreFileError(f'{path} holds scores of shapes {per_seed.shape} and {mean.shape} for '
                         f'{num} ids; expected (seeds, {num}) and ({num},).')
  if not (np.all(np.isfinite(per_seed)) and np.all(np.isfinite(mean))):
    raise ScoreFileError(f'{path} holds non-finite scores; delete it to recompute it.')
  expected = dict(dataset=dataset, score=score, step=step, model=model,
                  seeds=None if seeds is None else [int(s) for s in seeds])
  for key, value in expected.items():
    if value is not None and metadata.get(key) != value:
      raise ScoreFileError(f'{path} holds scores for {key} {metadata.get(key)!r}, not '
                           f'{value!r}: it belongs to another run; move it aside to recompute.')
  _check_unique(contents['ids'], str(path))
  loaded = ScoreFile(ids=contents['ids'], per_seed=per_seed, score=mean, metadata=metadata)
  return loaded if ids is None else loaded.aligned_to(ids, source=str(path))
