"""Out of device memory: one line naming where, XLA's request, and this config's knobs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from datadiet import device_memory, errors
from datadiet.stages.context import Context
from datadiet.stages.protocol import Stage


def _exhaust_the_device():
  """A real XLA out-of-memory on any backend: a 32 TiB buffer."""
  return jax.jit(lambda: jnp.ones((2**45,), jnp.uint8))()


def test_a_real_out_of_memory_names_the_stage_the_request_and_what_to_lower():
  config = default.get_config()
  with pytest.raises(errors.OutOfMemoryError) as raised:
    with device_memory.one_line_if_out_of_memory(config, 'score'):
      _exhaust_the_device()
  message = str(raised.value)
  assert '\n' not in message
  assert (f'{jax.devices()[0].device_kind} ran out of memory in score (RESOURCE_EXHAUSTED: Out '
          'of memory allocating 35184372088832 bytes.): lower config.runtime.score_batch_size '
          f'({config.runtime.score_batch_size}), compute in bfloat16 '
          "(config.scores.dtype='bfloat16'), or run on more devices. Results finished before it "
          'are intact: relaunch the same command to resume.') in message
  assert isinstance(raised.value.__cause__, jax.errors.JaxRuntimeError)


def test_a_host_array_too_large_is_the_same_one_line():
  config = default.get_config()
  with pytest.raises(errors.OutOfMemoryError) as raised:
    with device_memory.one_line_if_out_of_memory(config, 'retrain'):
      np.zeros(2**62, np.uint8)  # NumPy refuses at once: no memory is touched.
  assert str(raised.value).startswith('The host ran out of memory in retrain (Unable to '
                                      'allocate 4.00 EiB')
  assert f'lower config.optim.batch_size ({config.optim.batch_size} per seed)' in str(raised.value)


@pytest.mark.parametrize('error', [jax.errors.JaxRuntimeError('INTERNAL: something else'),
                                   ValueError('RESOURCE_EXHAUSTED in a user message')])
def test_every_other_error_passes_through(error):
  with pytest.raises(type(error)) as raised:
    with device_memory.one_line_if_out_of_memory(default.get_config(), 'score'):
      raise error
  assert raised.value is error


def test_advice_names_each_stages_own_knobs_with_this_configs_values():
  config = default.get_config()
  config.model.compute_dtype = 'bfloat16'  # Already bfloat16: not suggested again.
  assert device_memory.advice(config, 'retrain') == (
      f'lower config.optim.batch_size ({config.optim.batch_size} per seed) or '
      f'config.runtime.eval_batch_size ({config.runtime.eval_batch_size}), or run on more '
      'devices')
  everything = device_memory.advice(config, 'ntk_velocity')  # An analysis: every knob.
  for knob in ('optim.batch_size', 'runtime.eval_batch_size', 'runtime.score_batch_size'):
    assert f'config.{knob} (' in everything
  assert "(config.scores.dtype='bfloat16')" in everything
  assert 'model.compute_dtype' not in everything


def test_a_stage_that_runs_out_of_memory_is_not_marked_done(tmp_path):
  config = default.get_config()
  ctx = Context(config, tmp_path)
  stage = Stage('score', run=lambda ctx: _exhaust_the_device(), reads=('scores',))
  with pytest.raises(errors.OutOfMemoryError, match='ran out of memory in score'):
    ctx.run_stage(stage)
  assert not (tmp_path / 'stages' / 'score.done').exists()
