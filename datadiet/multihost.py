"""Running one job as several JAX processes (``jax.distributed``): arrays and who writes.

Every process runs the same program on the same host data. Arrays go onto the global mesh with
:func:`to_device` (each process fills only the shards its devices hold) and come back with
:func:`to_host` (gathered from all processes). Shared artifacts are written by process 0 alone,
through :func:`datadiet.atomic_files.commit`, which every process calls: all meet at a barrier
(:func:`barrier`) before process 0 writes and again after, so every process decides from the
same workdir (none sees a file before the others have looked for it) and takes the same
branches. Orbax checkpoints are the exception: every process takes part in saving them, and
orbax coordinates the commit; :func:`datadiet.train.checkpoints.saved_steps` lists them without
entering a barrier.

With one process all of this reduces to ``device_put``, ``device_get`` and a plain atomic write.
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils


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
