"""Out of memory: one line naming where, the allocator's request, and what to lower."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from datadiet import device_memory, errors, experiment
from datadiet import workdir as workdirs
from datadiet.stages.context import Context
from datadiet.stages import registry as stage_registry
from datadiet.stages.protocol import Stage


def _exhaust_the_device():
  """A real XLA out-of-memory on any backend: an exbibyte, refused before anything is touched."""
  return jax.jit(lambda: jnp.ones((2**60,), jnp.uint8))()


def test_a_real_device_out_of_memory_names_where_the_request_and_what_to_lower():
  config = default.get_config()
  with pytest.raises(errors.OutOfMemoryError) as raised, \
      device_memory.one_line_if_out_of_memory(config, 'score'):
    _exhaust_the_device()
  message = str(raised.value)
  assert '\n' not in message
  assert message.startswith(f'The device ({jax.devices()[0].device_kind}) ran out of memory in '
                            'score (RESOURCE_EXHAUSTED')
  assert '1152921504606846976 bytes' in message  # The allocator's own request, whatever wording.
  assert message.endswith(
      '): to resume this run, relaunch with a lower or leaner config.runtime.score_batch_size '
      f"(now {config.runtime.score_batch_size}), config.runtime.seed_strategy='map' (now "
      "'auto'); or config.scores.dtype='bfloat16' (these change the results: use a new "
      '--workdir). Results finished before it are intact.')
  assert isinstance(raised.value.__cause__, jax.errors.JaxRuntimeError)


def test_a_host_array_too_large_names_the_host_and_what_it_holds():
  config = default.get_config()
  with pytest.raises(errors.OutOfMemoryError) as raised, \
      device_memory.one_line_if_out_of_memory(config, 'retrain'):
    np.zeros(2**62, np.uint8)  # NumPy refuses at once: no memory is touched.
  message = str(raised.value)
  assert message == (
      'The host ran out of memory in retrain (Unable to allocate 4.00 EiB for an array with '
      'shape (4611686018427387904,) and data type uint8): to resume this run, relaunch with a '
      f'lower or leaner config.runtime.eval_batch_size (now {config.runtime.eval_batch_size}). '
      'Results finished before it are intact.')


@pytest.mark.parametrize('error', [
    jax.errors.JaxRuntimeError('INTERNAL: something else'),
    jax.errors.JaxRuntimeError('RESOURCE_EXHAUSTED: received message larger than max'),  # gRPC.
    ValueError('RESOURCE_EXHAUSTED: Out of memory, in a user message'),
    errors.OutOfMemoryError('No per-example norm form fits: lower the batch.'),  # Already one.
])
def test_every_other_error_passes_through_unchanged(error):
  with pytest.raises(type(error)) as raised, \
      device_memory.one_line_if_out_of_memory(default.get_config(), 'score'):
    raise error
  assert raised.value is error


def test_advice_names_each_stages_own_settings_with_this_configs_values():
  config = default.get_config()
  config.model.compute_dtype = 'bfloat16'  # Already bfloat16: not suggested again.
  config.runtime.seed_strategy = 'map'  # Already one seed at a time.
  assert device_memory.advice(config, 'retrain') == (
      'to resume this run, relaunch with a lower or leaner config.runtime.eval_batch_size (now '
      f'{config.runtime.eval_batch_size}); or config.optim.batch_size (now '
      f'{config.optim.batch_size} per seed) (these change the results: use a new --workdir)')
  assert device_memory.advice(config, 'ntk_velocity') == (  # Its own settings.
      'to resume it, relaunch with --continue_with_changed_config and a lower '
      'config.analyses.ntk_velocity.max_jacobian_mb (now 1024), '
      'config.analyses.ntk_velocity.chunk_size (now 16)')
  everything = device_memory.advice(config, 'error_barrier')  # Not listed: every setting.
  for setting in ('runtime.eval_batch_size', 'runtime.score_batch_size', 'optim.batch_size'):
    assert f'config.{setting} (now ' in everything
  assert "config.scores.dtype='bfloat16'" in everything and 'compute_dtype' not in everything


def test_a_stage_that_runs_out_of_memory_is_one_line_and_not_marked_done(tmp_path):
  ctx = Context(default.get_config(), tmp_path)
  stage = Stage('score', run=lambda ctx: _exhaust_the_device(), reads=('scores',))
  with pytest.raises(errors.OutOfMemoryError, match='ran out of memory in score'):
    experiment.run_stage(ctx, stage)
  assert not (tmp_path / 'stages' / 'score.done').exists()


def test_what_the_advice_says_resumes_does_and_what_it_says_needs_a_new_workdir_does(tmp_path):
  config = default.get_config()
  config.stages = (*config.stages, 'ntk_velocity')
  workdirs.claim(tmp_path, config, stage_registry.reads)
  for field, value in (('runtime.score_batch_size', 10), ('runtime.seed_strategy', 'map')):
    config.update_from_flattened_dict({field: value})
    workdirs.claim(tmp_path, config, stage_registry.reads)  # A plain relaunch: accepted.
  config.analyses.ntk_velocity.max_jacobian_mb = 256
  with pytest.raises(workdirs.WorkdirConfigMismatchError):
    workdirs.claim(tmp_path, config, stage_registry.reads)
  workdirs.claim(tmp_path, config, stage_registry.reads, allow_config_change=True)
  for field, value in (('optim.batch_size', 32), ('scores.dtype', 'bfloat16')):
    changed = config.copy_and_resolve_references()
    changed.update_from_flattened_dict({field: value})
    with pytest.raises(workdirs.WorkdirConfigMismatchError, match='Use a new --workdir'):
      workdirs.claim(tmp_path, changed, stage_registry.reads, allow_config_change=True)
