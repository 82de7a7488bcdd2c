"""Error barriers: spawned children continue the parent exactly, a network with itself has no
barrier, saved barriers follow the definition."""

import json
import shutil

import jax
import numpy as np
import pytest

from datadiet.stages import error_barrier
from datadiet.train import checkpoints, loop


def _restore(ctx, directory, step, seeds):
  run = loop.setup(ctx.config, ctx.data, seeds)
  return checkpoints.restore(checkpoints.manager(directory / 'checkpoints'), step, run.state)


def test_a_child_with_the_parents_seed_continues_the_parents_run(dynamics_run, tmp_path):
  # The NTK run trains seed 0 on the same labels straight to step 40; the error-barrier parent is
  # the same run stopped at 20. Spawning from it with seed 0's data order must give step 40 again:
  # state, optimizer and schedule carry on, the data stream picks up at step 20.
  workdir, ctx = dynamics_run
  parent = _restore(ctx, workdir / 'error_barrier' / 'parent', 20, [0])
  child = loop.train_ensemble(ctx.config, tmp_path / 'child', ctx.data, seeds=[0],
                              labels=ctx.train_labels, initial_state=jax.device_get(parent))
  assert child.start_step == 20 and child.num_steps == 40
  straight = _restore(ctx, workdir / 'ntk_velocity' / 'run', 40, [0])
  for a, b in zip(jax.tree.leaves(jax.device_get(child.state.params)),
                  jax.tree.leaves(jax.device_get(straight.params))):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_children_start_from_the_parent_and_end_apart(dynamics_run):
  workdir, ctx = dynamics_run
  mngr = checkpoints.manager(workdir / 'error_barrier' / 'spawn_20' / 'checkpoints')
  assert mngr.latest_step() == 40
  children = jax.device_get(_restore(ctx, workdir / 'error_barrier' / 'spawn_20', 40, [1000, 1001]))
  kernel = jax.tree.leaves(children.params)[0]
  assert not np.allclose(kernel[0], kernel[1])  # Independent data orders.


def test_a_network_with_itself_has_no_barrier(dynamics_run):
  workdir, ctx = dynamics_run
  state = jax.device_get(_restore(ctx, workdir / 'error_barrier' / 'spawn_20', 40, [1000, 1001]))
  params = jax.tree.map(lambda x: x[0], state.params)
  stats = jax.tree.map(lambda x: x[0], state.batch_stats)
  subsets = error_barrier.example_subsets(ctx)
  along = error_barrier.along_line(ctx, [params, params], [stats, stats], subsets)
  for name, curves in along.items():
    assert len(set(curves['error'])) == 1, name
    np.testing.assert_allclose(curves['loss'], curves['loss'][0], rtol=1e-5)
    assert error_barrier.lmc.error_barrier([0.0, 0.5, 1.0], curves['error']) == 0.0


def test_without_recomputed_statistics_the_endpoints_are_the_children(dynamics_run):
  """recompute_batch_stats=False: the line's statistics are the children's, interpolated, so
  at α = 1 and 0 it evaluates each child exactly as it was trained."""
  workdir, ctx = dynamics_run
  state = jax.device_get(_restore(ctx, workdir / 'error_barrier' / 'spawn_20', 40, [1000, 1001]))
  params = [jax.tree.map(lambda x, k=k: x[k], state.params) for k in range(2)]
  stats = [jax.tree.map(lambda x, k=k: x[k], state.batch_stats) for k in range(2)]
  subsets = error_barrier.example_subsets(ctx)
  config = ctx.config.copy_and_resolve_references()
  config.analyses.error_barrier.recompute_batch_stats = False
  naive = error_barrier.along_line(type(ctx)(config, ctx.workdir), params, stats, subsets)
  model = error_barrier.models.from_config(config, num_classes=ctx.data.num_classes)
  alphas = list(config.analyses.error_barrier.alphas)
  for name, positions in subsets.items():
    for alpha, child in ((1.0, 0), (0.0, 1)):
      logits = model.apply({'params': params[child], 'batch_stats': stats[child]},
                           ctx.normalized_train_images[positions], train=False)
      wrong = float(np.mean(np.argmax(logits, -1) != ctx.train_labels[positions]))
      assert naive[name]['error'][alphas.index(alpha)] == pytest.approx(wrong), (name, alpha)


def test_subsets_are_the_extremes_of_the_scores(dynamics_run):
  _, ctx = dynamics_run
  subsets = error_barrier.example_subsets(ctx)
  scores = ctx.mean_score('el2n')
  assert all(len(p) == 50 for p in subsets.values())
  rest = np.setdiff1d(np.arange(len(scores)), subsets['highest'])
  assert scores[subsets['highest']].min() >= scores[rest].max()
  rest = np.setdiff1d(np.arange(len(scores)), subsets['lowest'])
  assert scores[subsets['lowest']].max() <= scores[rest].min()


def test_saved_barriers_follow_the_definition(dynamics_run):
  workdir, _ = dynamics_run
  records = json.loads((workdir / 'error_barrier.json').read_text())
  assert [r['spawn_step'] for r in records] == [0, 20]
  for record in records:
    assert record['alphas'] == [0.0, 0.5, 1.0]
    for name, s in record['subsets'].items():
      err = dict(zip(record['alphas'], s['errors']))
      # A plain loop over the grid.
      expected = max(err[a] - (a * err[1.0] + (1 - a) * err[0.0]) for a in err)
      assert s['barrier'] == pytest.approx(expected)
      assert s['barrier_at_half'] == pytest.approx(err[0.5] - (err[0.0] + err[1.0]) / 2)
      assert s['barrier_above_endpoint_mean'] == pytest.approx(
          max(err.values()) - (err[0.0] + err[1.0]) / 2)
      assert s['barrier'] >= 0.0  # α = 0 and 1 contribute 0.
      assert all(0.0 <= e <= 1.0 for e in s['errors']) and all(x > 0 for x in s['losses'])
  rows = (workdir / 'error_barrier.csv').read_text().strip().split('\n')
  assert len(rows) == 1 + 2 * 3
  summary = (workdir / 'summary.md').read_text()
  assert '## Error barriers between children spawned at step t*' in summary
  assert (workdir / 'error_barrier.png').stat().st_size > 0


def test_a_changed_measurement_is_measured_again_without_retraining(dynamics_run, tmp_path):
  """recompute_batch_stats (like the α grid or bn_batches) only changes the measurement along
  the line: a rerun with it changed re-measures from the trained children, it never returns the
  curves saved under the old setting."""
  workdir, ctx = dynamics_run
  copy = tmp_path / 'run'
  shutil.copytree(workdir, copy)
  config = ctx.config.copy_and_resolve_references()
  config.analyses.error_barrier.recompute_batch_stats = False
  changed = type(ctx)(config, copy)
  saved = json.loads((copy / 'error_barrier' / 'spawn_20' / 'errors.json').read_text())
  checkpoint_files = sorted(p.name for p in (copy / 'error_barrier' / 'spawn_20').rglob('*'))
  error_barrier.error_barrier(changed)
  again = json.loads((copy / 'error_barrier' / 'spawn_20' / 'errors.json').read_text())
  assert saved['measured_with']['recompute_batch_stats'] is True
  assert again['measured_with']['recompute_batch_stats'] is False
  assert sorted(p.name for p in (copy / 'error_barrier' / 'spawn_20').rglob('*')) == \
      checkpoint_files  # No new training: the same checkpoints.
  assert again['child_test_accuracy'] == saved['child_test_accuracy']
  assert 'interpolated like the weights' in (copy / 'error_barrier.md').read_text()
