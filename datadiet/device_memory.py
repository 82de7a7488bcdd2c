"""Running out of device or host memory, as one line naming the settings that decide it.

XLA reports a device out of memory as a runtime error whose message contains
``RESOURCE_EXHAUSTED`` (while compiling, when its buffer plan does not fit, or when a step
allocates), a traceback deep in JAX; NumPy, as a ``MemoryError`` for a host array (a batch padded
to its size, say). Stages and the training job turn either into
:class:`datadiet.errors.OutOfMemoryError`, which ``launch.py`` prints as one line: where it
happened, the allocator's own first line (how much was asked for), and the settings that
decide that memory, each with this config's value, grouped by what changing it costs: a plain
relaunch (``runtime``), a relaunch with ``--continue_with_changed_config`` (an analysis's own),
or a new ``--workdir`` (anything that changes the results).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import ml_collections

from datadiet import config_checks, errors
from datadiet import workdir as workdirs

# The settings that decide each stage's memory; a stage not listed (an analysis that trains or
# evaluates) is told about every training and scoring one.
_TRAINING = ('runtime.eval_batch_size', 'runtime.seed_strategy', 'optim.batch_size',
             'model.compute_dtype')
_SCORING = ('runtime.score_batch_size', 'runtime.seed_strategy', 'scores.dtype')
_STAGES = {
    'train': _TRAINING, 'pretrain': _TRAINING, 'retrain': _TRAINING, 'score': _SCORING,
    'ntk_velocity': ('analyses.ntk_velocity.max_jacobian_mb', 'analyses.ntk_velocity.chunk_size'),
}
_EVERYTHING = ('runtime.eval_batch_size', 'runtime.score_batch_size', 'runtime.seed_strategy',
               'optim.batch_size', 'model.compute_dtype', 'scores.dtype')
# What the host holds for a stage: its batches, padded to these sizes.
_HOST = {'train': ('runtime.eval_batch_size',), 'pretrain': ('runtime.eval_batch_size',),
         'retrain': ('runtime.eval_batch_size',), 'score': ('runtime.score_batch_size',)}
_HOST_EVERYTHING = ('runtime.eval_batch_size', 'runtime.score_batch_size')


_ACCELERATORS = ('gpu', 'tpu')


def device_memory_bytes(device: jax.Device) -> int | None:
  """The memory one accelerator gives JAX, or None where unknown (CPU)."""
  stats = device.memory_stats() if device.platform in _ACCELERATORS else None
  return int(stats['bytes_limit']) if stats and 'bytes_limit' in stats else None


def is_out_of_memory(error: BaseException) -> bool:
  """Whether ``error`` is XLA running out of memory (``RESOURCE_EXHAUSTED: Out of memory …``;
  the word 'memory' keeps out gRPC's RESOURCE_EXHAUSTED, a message over its size limit)."""
  text = str(error)
  return (isinstance(error, RuntimeError) and 'RESOURCE_EXHAUSTED' in text
          and 'memory' in text.lower())


def _setting(config: ml_collections.ConfigDict, field: str) -> str | None:
  """``config.<field> (<value>)`` as a suggestion, or None where lowering it cannot help."""
  value = config_checks.field_value(config, field)
  if field.endswith('dtype'):
    return None if value == 'bfloat16' else f"config.{field}='bfloat16'"
  if field == 'runtime.seed_strategy':  # Seeds one after another on each device.
    return None if value == 'map' else f"config.{field}='map' (now {value!r})"
  return f'config.{field} (now {value}{" per seed" if field == "optim.batch_size" else ""})'


def advice(config: ml_collections.ConfigDict, where: str, host: bool = False) -> str:
  """What to lower after ``where`` ran out of (device, or ``host``) memory, grouped by what a
  change costs: ``runtime`` settings bind no workdir (a relaunch resumes); an analysis's own
  (:data:`datadiet.workdir.ADDITIVE_FIELDS`) resume with ``--continue_with_changed_config``;
  any other changes the results (a new ``--workdir``)."""
  fields = _HOST.get(where, _HOST_EVERYTHING) if host else _STAGES.get(where, _EVERYTHING)
  resume, resume_changed, new_workdir = [], [], []
  for field in fields:
    if suggestion := _setting(config, field):
      (resume if field.startswith('runtime.') else resume_changed if workdirs.is_additive(field)
       else new_workdir).append(suggestion)
  parts = []
  if resume:
    parts.append('to resume this run, relaunch with a lower or leaner ' + ', '.join(resume))
  if resume_changed:
    parts.append('to resume it, relaunch with --continue_with_changed_config and a lower '
                 + ', '.join(resume_changed))
  if new_workdir:
    parts.append(('or ' if parts else '') + ', '.join(new_workdir) + ' (these change the '
                 'results: use a new --workdir)')
  return '; '.join(parts) or 'run on a machine with more memory'


def first_line(error: BaseException) -> str:
  """The error's first non-empty line: XLA's and NumPy's say how much was asked for."""
  return next((line.strip() for line in str(error).splitlines() if line.strip()), '')


@contextlib.contextmanager
def one_line_if_out_of_memory(config: ml_collections.ConfigDict, where: str) -> Iterator[None]:
  """Re-raises running out of memory inside the block as an OutOfMemoryError naming ``where`` (a
  stage, or ``train``) and what to lower; every other error, a DatadietError included, passes
  through."""
  try:
    yield
  except (RuntimeError, MemoryError) as e:
    host = isinstance(e, MemoryError)
    if isinstance(e, errors.DatadietError) or not (host or is_out_of_memory(e)):
      raise
    what = 'The host' if host else f'The device ({jax.devices()[0].device_kind})'
    raise errors.OutOfMemoryError(
        f'{what} ran out of memory in {where} ({first_line(e)}): {advice(config, where, host)}. '
        'Results finished before it are intact.') from e
