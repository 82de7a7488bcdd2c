"""Scores and keep-lists in a dataset's own order, for other code and other repositories.

datadiet keys every score by a stable example id (:mod:`datadiet.score_files`). Other data-pruning
code stores a score as a positional ``.npy``: entry ``i`` belongs to the ``i``-th example of the
split in some order. Two orders are supported (``order=``):

* ``'dataset'``, the dataset's own order, from the ids: integer ids (``digits``, the index in its
  release) ascending; TFDS ids (``cifar10-train.array_record-00000-of-00001__17``) by shard, then
  by the index in the shard, numerically — the order ``tfds.load(split, shuffle_files=False)``
  reads; image-folder ids (``<class>/<file>``) by class, then file name (``torchvision``'s
  ``ImageFolder`` order);
* ``'authors'``, the order of the authors' code (``mansheej/data_diet``), whose loaders sort the
  training set by class (``labels.argsort()``, NumPy's default sort, after TFDS's order): their
  score files and subset positions index that class-sorted set. It needs the labels (of the
  noisy labels, for a label-noise run, as theirs re-sort by them).

Example (prune a NumPy or PyTorch dataset held in that order)::

  scores = datadiet.interop.positional_scores('run/scores/el2n@7800.npz')   # (N,) float32
  keep = datadiet.select(scores, fraction_pruned=0.5, method='keep_hardest')  # positions
  subset = torch.utils.data.Subset(train_set, keep.tolist())
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from datadiet import atomic_files, errors, pruning, pruning_methods, score_files

_TFDS_ID = re.compile(r'^(?P<file>.*)-(?P<shard>\d+)-of-(?P<shards>\d+)__(?P<index>\d+)$')


ORDERS = ('dataset', 'authors')


def dataset_order(ids: Sequence[Any] | np.ndarray) -> np.ndarray:
  """The permutation that puts ``ids`` in their dataset's own order (see the module doc)."""
  ids = np.asarray(ids)
  if ids.dtype.kind in 'iu':
    return np.argsort(ids, kind='stable')
  keys = [str(i) for i in ids.tolist()]
  parsed = [_TFDS_ID.match(key) for key in keys]
  if all(parsed):
    return np.array(sorted(range(len(keys)), key=lambda i: (
        parsed[i]['file'], int(parsed[i]['shard']), int(parsed[i]['index']))), dtype=np.int64)
  # '<class>/<file>': by class, then file (a plain string sort would put 'cat-2/x' before 'cat/x').
  return np.array(sorted(range(len(keys)), key=lambda i: tuple(keys[i].split('/', 1))),
                  dtype=np.int64)


def order_of(ids: Sequence[Any] | np.ndarray, order: str = 'dataset',
             labels: np.ndarray | None = None) -> np.ndarray:
  """The permutation that puts ``ids`` in ``order`` (``'dataset'`` or ``'authors'``, which
  needs ``labels``, aligned with ``ids``)."""
  if order not in ORDERS:
    raise errors.InputError(f'Unknown order {order!r}; valid: {", ".join(ORDERS)}.')
  permutation = dataset_order(ids)
  if order == 'authors':
    if labels is None:
      raise errors.InputError("order='authors' needs the labels of the split (the authors' "
                              'code sorts it by class).')
    if len(labels) != len(permutation):
      raise errors.InputError(f'{len(labels)} labels for {len(permutation)} ids: give the '
                              'labels of the same split, aligned with its ids.')
    permutation = permutation[np.argsort(np.asarray(labels)[permutation])]  # NumPy's default.
  return permutation


def _write_npy(path: str, array: np.ndarray) -> None:
  def write(tmp):
    with open(tmp, 'wb') as f:  # A file object: np.save would append .npy to a temporary name.
      np.save(f, array)
  atomic_files.commit(path, write)


def _file_labels(loaded, split: dict | None) -> np.ndarray | None:
  """``split['label']`` aligned to a score file's ids (``split``: ``{'id', 'label'}``)."""
  if split is None:
    return None
  position = {key: i for i, key in enumerate(np.asarray(split['id']).tolist())}
  missing = [key for key in loaded.ids.tolist() if key not in position]
  if missing:
    raise errors.InputError(f'{len(missing)} ids of the score file are not in the split given '
                            f'(e.g. {missing[:3]}); pass the split the scores were computed on '
                            '(its training split).')
  return np.asarray(split['label'])[[position[key] for key in loaded.ids.tolist()]]


def positional_scores(path: str | os.PathLike, order: str = 'dataset',
                      split: dict | None = None) -> np.ndarray:
  """The seed-mean scores of a datadiet score file, by position in ``order`` (``'authors'``
  needs ``split``, the split's ``{'id', 'label'}`` arrays)."""
  loaded = score_files.load_scores(path)
  return loaded.score[order_of(loaded.ids, order, _file_labels(loaded, split))]


def export_scores(path: str | os.PathLike, out_prefix: str | os.PathLike,
                  order: str = 'dataset', split: dict | None = None) -> None:
  """Writes ``<out_prefix>.npy`` (the seed-mean scores by position in ``order``) and
  ``<out_prefix>.csv`` (``position,id,score``) from a datadiet score file."""
  loaded = score_files.load_scores(path)
  order = order_of(loaded.ids, order, _file_labels(loaded, split))
  ids, scores = loaded.ids[order], loaded.score[order]
  _write_npy(f'{out_prefix}.npy', scores)
  buffer = io.StringIO()
  writer = csv.writer(buffer)
  writer.writerow(['position', 'id', 'score'])
  writer.writerows([i, key, f'{value:.9g}'] for i, (key, value) in
                   enumerate(zip(ids.tolist(), scores.tolist())))
  atomic_files.write_text(f'{out_prefix}.csv', buffer.getvalue())


def export_keep_list(ids: Sequence[Any] | np.ndarray, out_prefix: str | os.PathLike, *,
                     kept_positions: Sequence[int] | np.ndarray | None = None,
                     kept_ids: Sequence[Any] | np.ndarray | None = None,
                     order: str = 'dataset', labels: np.ndarray | None = None) -> np.ndarray:
  """Writes one subset of the split whose ids are ``ids`` as ``<out_prefix>.npy`` (its sorted
  positions in ``order``) and ``<out_prefix>.csv`` (``position,id``); returns the positions.

  Give the subset as exactly one of ``kept_positions`` (positions in ``order``, e.g. what
  :func:`select` returns for scores from :func:`positional_scores` in the same order) or
  ``kept_ids`` (example ids, e.g. a run's ``subsets/<name>.npz``). For a per-seed subset file,
  export each row.

  Example::

    keep = datadiet.select(scores, 0.5)                       # positions into scores
    interop.export_keep_list(data.train['id'], '/tmp/keep', kept_positions=keep)
  """
  if (kept_positions is None) == (kept_ids is None):
    raise errors.InputError('export_keep_list: give the subset as exactly one of '
                            'kept_positions= (positions, e.g. datadiet.select\'s) or kept_ids= '
                            '(example ids).')
  ids = np.asarray(ids)
  kept = np.asarray(kept_ids if kept_positions is None else kept_positions)
  what = 'kept_ids' if kept_positions is None else 'kept_positions'
  if kept.ndim != 1:
    raise errors.InputError(f'{what} must be one subset (1-D), got shape {kept.shape}; for '
                            'per-seed subsets export each row.')
  ordered = ids[order_of(ids, order, labels)]
  if kept_positions is not None:
    integer = np.issubdtype(kept.dtype, np.integer)
    if not integer or kept.size and (kept.min() < 0 or kept.max() >= len(ordered)):
      found = (f'range [{kept.min()}, {kept.max()}]' if integer and kept.size
               else f'dtype {kept.dtype}')
      raise errors.InputError(f'kept_positions must be integer positions in [0, {len(ordered)}) '
                              f'of the split, got {found}; for example ids pass kept_ids=.')
    positions = np.sort(kept.astype(np.int64))
  else:
    position = {key: i for i, key in enumerate(ordered.tolist())}
    unknown = [key for key in kept.tolist() if key not in position]
    if unknown:
      raise errors.InputError(f'{len(unknown)} kept ids are not in the split (e.g. '
                              f'{unknown[:3]}).')
    positions = np.sort(np.array([position[key] for key in kept.tolist()], dtype=np.int64))
  if len(np.unique(positions)) != len(positions):
    raise errors.InputError(f'{what} repeats an example; a subset holds each once.')
  _write_npy(f'{out_prefix}.npy', positions)
  buffer = io.StringIO()
  csv.writer(buffer).writerows([['position', 'id']] + [[p, ordered[p]] for p in positions])
  atomic_files.write_text(f'{out_prefix}.csv', buffer.getvalue())
  return positions


def import_positional(npy_path: str | os.PathLike, ids: Sequence[Any] | np.ndarray, *,
                      dataset: str, expected_dataset: str, order: str = 'dataset',
                      labels: np.ndarray | None = None) -> dict[Any, float]:
  """Reads a positional ``.npy`` of scores for the split whose ids are ``ids``: ``{id:
  score}``. ``order`` is the order the file follows (``'authors'`` for the authors' score
  files, with ``labels`` aligned with ``ids``). ``dataset`` names the data the file was
  computed on and must be ``expected_dataset`` (the dataset ``ids`` come from); the length must
  match the split's."""
  if dataset != expected_dataset:
    raise errors.InputError(f'{npy_path} holds scores of {dataset!r}, not of '
                            f'{expected_dataset!r}; import it with the dataset it belongs to.')
  try:
    values = np.load(npy_path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise errors.InputError(f'Cannot read {npy_path} as a .npy array ({e}).') from e
  ids = np.asarray(ids)
  if values.ndim != 1 or len(values) != len(ids):
    raise errors.InputError(f'{npy_path} holds {values.shape} scores but the split has '
                            f'{len(ids)} examples; a positional file has one score per example '
                            f'of the split (in the {order!r} order).')
  if not np.all(np.isfinite(values)):
    raise errors.InputError(f'{npy_path} holds {int(np.sum(~np.isfinite(values)))} scores that '
                            'are not finite.')
  ordered = ids[order_of(ids, order, labels)]
  return dict(zip(ordered.tolist(), values.astype(np.float32).tolist()))


def select(scores: np.ndarray, fraction_pruned: float, method: str = 'keep_hardest', *,
           ids: Sequence[Any] | np.ndarray | None = None, labels: np.ndarray | None = None,
           seed: int = 0, **options) -> np.ndarray:
  """The examples a pruning method keeps: sorted positions into ``scores`` (or the kept ``ids``
  when given). ``fraction_pruned`` is the fraction dropped; ``method`` is any registered method
  (``datadiet.pruning_methods.METHODS``: the built-in ones are ``keep_hardest``, ``offset``,
  ``class_balanced`` (needs ``labels``), ``ccs`` and ``random``) and ``options`` its options
  (e.g. ``fraction=0.01`` for ``offset``), checked as a run checks them.

  Example::

    keep = datadiet.select(el2n, 0.5, 'offset', fraction=0.01)   # drop 1% hardest, keep 50%
  """
  entry = pruning_methods.get(method)
  options, unknown = entry.merged(options)
  if unknown:
    raise errors.InputError(f'The {method} method takes no option {", ".join(unknown)}; its '
                            f'options: {", ".join(entry.defaults) or "none"}.')
  for name in entry.score_options:  # Another score the method reads: given here as an array.
    if isinstance(options[name], str):
      if options[name]:
        raise errors.InputError(f'{method}: give {name} as an array of scores aligned with '
                                f'scores, not the name {options[name]!r}.')
    else:
      options[name] = np.asarray(options[name], np.float64)
  entry.check_options(options)
  scores = np.asarray(scores)
  num = len(scores) if scores.ndim else 0
  if ids is not None and len(ids) != num:
    raise errors.InputError(f'{len(ids)} ids for {num} scores: give the ids of the scored '
                            'examples, aligned with the scores.')
  size = pruning.keep_size(num, fraction_pruned)
  entry.check_subset(options, num, size, dict(name=method, fraction_pruned=fraction_pruned))
  if method == 'class_balanced' and labels is None:
    raise errors.InputError('class_balanced needs the labels: select(..., labels=labels).')
  labels = np.zeros(num, np.int32) if labels is None else np.asarray(labels)
  # One draw from `seed` (a run draws one per retraining seed for a per_seed method).
  kept = entry.select(scores if entry.uses_scores else None, labels, size, seed,
                      **entry.resolve(options, fraction_pruned))
  return kept if ids is None else np.asarray(ids)[kept]
