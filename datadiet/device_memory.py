"""A device that runs out of memory, as one line naming the settings that decide the memory.

XLA reports it as a ``JaxRuntimeError`` whose message starts ``RESOURCE_EXHAUSTED`` (while
compiling, when its buffer plan does not fit, or when a step allocates), a traceback deep in
JAX; NumPy, as a ``MemoryError`` for a host array (a batch padded to its size, say). Stages and the training job turn it into :class:`datadiet.errors.OutOfMemoryError`, which
``launch.py`` prints as one line: where it happened, XLA's own first line (how much it asked
for), and the batch sizes and dtypes to lower, with this config's values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import ml_collections

from datadiet import errors

# What each stage's memory depends on; other stages (the analyses) are told every knob.
_TRAINING = ('optim.batch_size', 'runtime.eval_batch_size', 'model.compute_dtype')
_SCORING = ('runtime.score_batch_size', 'scores.dtype')
_KNOBS = {'train': _TRAINING, 'pretrain': _TRAINING + _SCORING, 'retrain': _TRAINING,
          'score': _SCORING}


def is_out_of_memory(error: BaseException) -> bool:
  """Whether ``error`` is XLA running out of device memory."""
  return isinstance(error, jax.errors.JaxRuntimeError) and 'RESOURCE_EXHAUSTED' in str(error)


def _value(config: ml_collections.ConfigDict, field: str):
  for key in field.split('.'):
    config = config[key]
  return config


def advice(config: ml_collections.ConfigDict, where: str) -> str:
  """The settings that decide ``where``'s memory, with their values in ``config``."""
  knobs = _KNOBS.get(where, _TRAINING + _SCORING)
  sizes = [f'config.{k} ({_value(config, k)}{" per seed" if k == "optim.batch_size" else ""})'
           for k in knobs if 'dtype' not in k]
  dtypes = [f'config.{k}' for k in knobs if 'dtype' in k and _value(config, k) != 'bfloat16']
  text = 'lower ' + ' or '.join(sizes)
  if dtypes:
    text += f", compute in bfloat16 ({' and '.join(dtypes)}='bfloat16')"
  return text + ', or run on more devices'


def first_line(error: BaseException) -> str:
  return next((line.strip() for line in str(error).splitlines() if line.strip()), '')


@contextlib.contextmanager
def one_line_if_out_of_memory(config: ml_collections.ConfigDict, where: str) -> Iterator[None]:
  """Re-raises device out-of-memory inside the block as an OutOfMemoryError naming ``where``
  (a stage, or ``train``) and what to lower; every other error passes through."""
  try:
    yield
  except (jax.errors.JaxRuntimeError, MemoryError) as e:
    if isinstance(e, errors.DatadietError) or not (isinstance(e, MemoryError)
                                                   or is_out_of_memory(e)):
      raise
    # NumPy's MemoryError: a host array (a padded batch, say) did not fit in the host's memory.
    device = 'The host' if isinstance(e, MemoryError) else jax.devices()[0].device_kind
    raise errors.OutOfMemoryError(
        f'{device} ran out of memory in {where} ({first_line(e)}): {advice(config, where)}. '
        'Results finished before it are intact: relaunch the same command to resume.') from e
