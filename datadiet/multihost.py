"""Running one job as several JAX processes (``jax.distributed``): arrays and who writes.

Every process runs the same program on the same host data. Arrays go onto the global mesh with
:func:`to_device` (each process fills only the shards its devices hold) and come back with
:func:`to_host` (gathered from all processes). Shared artifacts are written by process 0 alone,
through :func:`commit`, which every process calls: the others wait at a barrier until the file
exists, so all processes see the same workdir and take the same branches. Orbax checkpoints are
the exception: every process takes part in saving them, and orbax coordinates the commit.

With one process all of this reduces to ``device_put``, ``device_get`` and a plain atomic write.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from datadiet import errors

_barriers = itertools.count()


def is_writer() -> bool:
  """Whether this process writes shared artifacts (process 0)."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Waits until every process gets here (no-op with one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f'{name}:{next(_barriers)}')


def to_device(tree: Any, sharding: jax.sharding.Sharding) -> Any:
  """Host arrays (the same global values on every process) → global arrays with ``sharding``."""
  if jax.process_count() == 1:
    return jax.device_put(tree, sharding)
  return jax.tree.map(
      lambda x: jax.make_array_from_callback(np.shape(x), sharding, lambda index: x[index]), tree)


def to_host(tree: Any) -> Any:
  """Global arrays → numpy arrays holding the whole value, on every process."""
  if jax.process_count() == 1:
    return jax.device_get(tree)
  return multihost_utils.process_allgather(tree, tiled=True)


def commit(path: str | Path, write: Callable[[Path], None]) -> None:
  """Writes ``path`` atomically on process 0 (``write`` fills a temporary file, which is synced
  and renamed over ``path``), then waits for every process. A crash leaves the old file or none,
  never a partial one; an existing file with the same bytes is left as it is."""
  path = Path(path)
  if is_writer():
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp{path.suffix}')  # Same suffix: savefig reads it.
    try:
      write(tmp)
      with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())
    except BaseException as e:
      tmp.unlink(missing_ok=True)
      if isinstance(e, OSError):
        errors.raise_if_unwritable(e, path)
      raise
    if path.exists() and _same_bytes(tmp, path):
      tmp.unlink()  # Rewriting a finished result with itself (a relaunch): leave it untouched.
    else:
      os.chmod(tmp, 0o644)
      tmp.replace(path)
  barrier('commit')


def _same_bytes(a: Path, b: Path) -> bool:
  return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def write_text(path: str | Path, text: str) -> None:
  """:func:`commit` of a text file."""
  commit(path, lambda tmp: tmp.write_text(text))
