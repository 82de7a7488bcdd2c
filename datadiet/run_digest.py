"""A digest of a pipeline run's results, to check that two runs computed the same thing.

``digest(workdir)`` maps every result file (scores, subsets, keep-lists, retraining results,
the report's tables and correlations, label-noise masks, the training-dynamics analyses' tables,
per-run results and Gram matrices, also in the label-noise variants, ``summary.md``) to a
SHA-256 of its
*content*: the arrays of an ``.npz`` (names, dtypes, shapes and bytes, not the zip container's
timestamps), the parsed value of a ``.json``, the text of anything else. Files that record how a
run went rather than what it computed — stage timings, metrics logs, checkpoints, plots — are
left out. A run killed and relaunched any number of times should have the digest of an
uninterrupted one (``tests/test_crash_safety.py``, ``bench/kill_resume.py``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

_PIPELINE = ('scores*/*.npz', 'subsets/*.npz', 'subsets/*.csv', 'retrain/*/result.json',
             'results.json', 'results.csv', 'spearman.json', 'spearman_architectures.json',
             'noise_detection.json', 'label_noise.npz', 'summary.md')
_ANALYSES = ('offset_sweep/*/result.json', 'offset_sweep*.json', 'offset_sweep.csv',
             'offset_sweep.md', 'error_barrier/*/errors.json', 'error_barrier.json',
             'error_barrier.csv', 'error_barrier.md', 'ntk_velocity/gram@*.npz',
             'ntk_velocity.json', 'ntk_velocity.csv', 'ntk_velocity.md')
# Label-noise variants of a run (label_noise_<f>/) hold their own scores and analyses.
RESULT_PATTERNS = (_PIPELINE + _ANALYSES +
                   tuple(f'label_noise_*/{pattern}' for pattern in _PIPELINE + _ANALYSES))


def _content_hash(path: Path) -> str:
  sha = hashlib.sha256()
  if path.suffix == '.npz':
    with np.load(path, allow_pickle=False) as arrays:
      for name in sorted(arrays.files):
        value = arrays[name]
        sha.update(f'{name}:{value.dtype.str}:{value.shape}'.encode())
        sha.update(np.ascontiguousarray(value).tobytes())
  elif path.suffix == '.json':
    sha.update(json.dumps(json.loads(path.read_text()), sort_keys=True).encode())
  else:
    sha.update(path.read_bytes())
  return sha.hexdigest()


def digest(workdir: str | Path) -> dict[str, str]:
  """``{path relative to workdir: content hash}`` for every result file of the run."""
  workdir = Path(workdir)
  # Hidden files are atomic_files.commit's temporaries: a write a kill interrupted, not a result.
  paths = sorted({p for pattern in RESULT_PATTERNS for p in workdir.glob(pattern)
                  if not p.name.startswith('.')})
  return {str(p.relative_to(workdir)): _content_hash(p) for p in paths}
