"""Checkpoints: restoring step k returns step k (also k = 0), missing steps are named."""

import jax
import numpy as np
import optax
import pytest

from datadiet import models
from datadiet.train import checkpoints, ensemble


def test_restore_step_k_returns_step_k(tmp_path):
  model = models.get_model('mlp', num_classes=3, hidden=(4,))
  optimizer = optax.sgd(0.1)
  mesh = ensemble.make_mesh(2)
  state = ensemble.init_ensemble(model, optimizer, [0, 1], np.zeros((2, 2, 1), np.float32), 5,
                                 mesh)
  initial = jax.device_get(state)
  mngr = checkpoints.manager(tmp_path)
  for step in (0, 2, 4):
    state = state.replace(step=state.step * 0 + step,
                          params=jax.tree.map(lambda p: p + 1.0, state.params))
    checkpoints.save(mngr, step, state)
  restored = checkpoints.restore(mngr, 0, state)
  assert np.asarray(restored.step).tolist() == [0, 0]
  for a, b in zip(jax.tree.leaves(initial.params), jax.tree.leaves(restored.params)):
    np.testing.assert_array_equal(a + 1.0, b)  # The first save, not the latest (+3).
  assert np.asarray(checkpoints.restore(mngr, 2, state).step).tolist() == [2, 2]
  with pytest.raises(checkpoints.CheckpointError, match=r'No checkpoint for step 3 .* \[0, 2, 4\]'):
    checkpoints.restore(mngr, 3, state)
  # The listing without a manager agrees with the manager's, and skips an unfinished save.
  (tmp_path / '6.orbax-checkpoint-tmp-123').mkdir()
  assert checkpoints.saved_steps(tmp_path) == sorted(mngr.all_steps()) == [0, 2, 4]
  assert checkpoints.saved_steps(tmp_path / 'absent') == []


@pytest.mark.parametrize('error, raised', [
    (jax.errors.JaxRuntimeError('RESOURCE_EXHAUSTED: Out of memory while trying to allocate '
                                '1.00GiB'), jax.errors.JaxRuntimeError),
    (MemoryError('Unable to allocate 1.00 GiB'), MemoryError),
    (ValueError('Tensorstore: truncated chunk'), checkpoints.CheckpointError),
])
def test_out_of_memory_while_restoring_is_not_called_damage(tmp_path, monkeypatch, error, raised):
  # Reported as a damaged checkpoint, it would tell the user to move a good one aside.
  model = models.get_model('mlp', num_classes=3, hidden=(4,))
  mesh = ensemble.make_mesh(1)
  state = ensemble.init_ensemble(model, optax.sgd(0.1), [0], np.zeros((1, 2, 1), np.float32), 5,
                                 mesh)
  mngr = checkpoints.manager(tmp_path)
  checkpoints.save(mngr, 0, state)

  def fail(*args, **kwargs):
    raise error

  monkeypatch.setattr(mngr, 'restore', fail)
  with pytest.raises(raised) as caught:
    checkpoints.restore(mngr, 0, state)
  assert (caught.value is error) == (raised is not checkpoints.CheckpointError)


def test_a_checkpoint_of_an_older_state_is_named_as_such(tmp_path):
  """A state that has gained fields since a checkpoint was written (constants and lookahead):
  the restore names them instead of calling the checkpoint damaged."""
  model = models.get_model('mlp', num_classes=3, hidden=(4,))
  state = ensemble.init_ensemble(model, optax.sgd(0.1), [0], np.zeros((2, 2, 1), np.float32), 5,
                                 ensemble.make_mesh(1))
  older = {'step': state.step, 'params': state.params, 'batch_stats': state.batch_stats,
           'opt_state': state.opt_state, 'trackers': state.trackers}
  mngr = checkpoints.manager(tmp_path)
  checkpoints.save(mngr, 0, older)
  with pytest.raises(checkpoints.CheckpointError, match=r'written by an older datadiet: its '
                                                        r'state has no constants, lookahead\. '
                                                        r'.*use a new --workdir'):
    checkpoints.restore(mngr, 0, state)
