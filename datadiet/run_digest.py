"""A digest of a pipeline run's results, to check that two runs computed the same thing.

``digest(workdir)`` maps every result file that a stage declares (``Stage.outputs``: scores,
subsets, keep-lists, retraining results, the report's tables and correlations, label-noise
masks, the training-dynamics analyses' tables, per-run results and Gram matrices, also in the
label-noise variants, ``summary.md``) to a SHA-256 of its *content*: the arrays of an
``.npz`` (names, dtypes, shapes and bytes, not the zip container's timestamps), the parsed
value of a ``.json``, the text of anything else. Files that record how a run went rather than
what it computed — stage timings, metrics logs, checkpoints, plots — are left out. A run
killed and relaunched any number of times should have the digest of an uninterrupted one
(``tests/test_crash_safety.py``, ``bench/kill_resume.py``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

def result_patterns() -> tuple[str, ...]:
  """Every stage's declared outputs (``Stage.outputs``), also inside the label-noise variants of
  a run (``label_noise_<f>/``), which hold their own scores and analyses."""
  from datadiet.stages import registry  # The stages import the whole stack.
  own = tuple(pattern for stage in registry.STAGES.values() for pattern in stage.outputs)
  return own + tuple(f'label_noise_*/{pattern}' for pattern in own)


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
  paths = sorted({p for pattern in result_patterns() for p in workdir.glob(pattern)
                  if not p.name.startswith('.')})
  return {str(p.relative_to(workdir)): _content_hash(p) for p in paths}
