"""Orbax checkpoints of the ensemble state: save at chosen steps, resume from the latest.

Restoring step k returns step k (checked by reading the step stored in the state itself, so a
manager that silently returned another step would be caught: the bug once seen in Flax, where
restoring step 0 loaded the latest step, would turn "scores at initialisation" into "scores at
the end").
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from datadiet import device_memory, errors


class CheckpointError(errors.InputError):
  """A requested checkpoint is missing, unreadable or not the step asked for."""


def manager(directory: str | Path) -> ocp.CheckpointManager:
  """A manager that keeps every checkpoint it is asked to save (saves are explicit)."""
  options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True,
                                         enable_async_checkpointing=False)
  # The handler of the one item saved ('default'), named so that a restore knows it (orbax
  # otherwise warns that the item "could not be restored" on every restore).
  return ocp.CheckpointManager(Path(directory).absolute(), options=options,
                               item_handlers=ocp.StandardCheckpointHandler())


def saved_steps(directory: str | Path) -> list[int]:
  """The steps saved (finalized) in ``directory``, none if it does not exist. Lists the files
  alone: creating a manager to ask would enter orbax's directory-creation barrier, which a
  multi-process run's processes would then reach a different number of times (one seeing the
  directory process 0 had just created, another not)."""
  return sorted(ocp.step.checkpoint_steps(directory)) if Path(directory).is_dir() else []


def save(mngr: ocp.CheckpointManager, step: int, state: Any) -> None:
  """Saves ``state`` as ``step`` (atomically: orbax writes to a temporary directory first)."""
  try:
    mngr.save(step, args=ocp.args.StandardSave(state), force=True)
    mngr.wait_until_finished()
  except OSError as e:  # Orbax's temporary directory is not renamed into place: none is left.
    errors.raise_if_unwritable(e, Path(mngr.directory) / str(step))
    raise


def _abstract(state: Any) -> Any:
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state)


def _check_written_by_this_version(mngr: ocp.CheckpointManager, step: int, like: Any) -> None:
  """Raises a CheckpointError naming the fields a checkpoint of an older datadiet lacks (a state
  that gained fields since: restoring it would fail as if it were damaged)."""
  if not dataclasses.is_dataclass(like):
    return
  try:
    saved = mngr.item_metadata(step)
    saved = getattr(saved, 'tree', saved)
  except Exception:  # pylint: disable=broad-except  (Unreadable: restore says how to repair it.)
    return
  if not isinstance(saved, dict):
    return
  missing = [f.name for f in dataclasses.fields(like) if f.name not in saved]
  if missing:
    raise CheckpointError(
        f'Checkpoint for step {step} in {mngr.directory} was written by an older datadiet: its '
        f'state has no {", ".join(missing)}. This version cannot resume it; use a new '
        '--workdir.')


def restore(mngr: ocp.CheckpointManager, step: int, like: Any) -> Any:
  """Restores ``step`` with the structure and shardings of ``like``.

  Raises:
    CheckpointError: no such step (the message lists the saved ones), or it cannot be read.
  """
  available = sorted(mngr.all_steps())
  if step not in available:
    raise CheckpointError(f'No checkpoint for step {step} in {mngr.directory}; saved steps: '
                          f'{available or "none"}.')
  _check_written_by_this_version(mngr, step, like)
  try:
    state = mngr.restore(step, args=ocp.args.StandardRestore(_abstract(like)))
  except Exception as e:  # Orbax raises many types for a damaged checkpoint.
    if device_memory.is_out_of_memory(e) or isinstance(e, MemoryError):
      raise  # Not damage: the stage reports it as out of memory, naming what to lower.
    directory = Path(mngr.directory)
    cause = ' '.join(str(e).split('See full TensorStore details')[0].split()).rstrip(' .;:')
    cause = f'{type(e).__name__}: {cause[:150]}{"…" if len(cause) > 150 else ""}'
    raise CheckpointError(
        f'Checkpoint for step {step} in {directory} cannot be read; it is corrupted or '
        f'truncated ({cause}). Move it out of the way (mv {directory / str(step)} '
        f'{directory.parent / f"damaged_checkpoint_{step}"}) and relaunch: the run re-creates '
        f'it by training again from the step saved before it.') from e
  stored = np.unique(np.asarray(jax.device_get(state.step)))
  if stored.tolist() != [step]:
    raise CheckpointError(f'Checkpoint directory step {step} holds state for step '
                          f'{stored.tolist()}.')
  return state
