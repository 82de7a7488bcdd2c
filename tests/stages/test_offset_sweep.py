"""The offset sweep: exact windows outside a fixed validation split, accuracies recomputed from the
checkpoints, the offset chosen on validation, files and summary."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet import models
from datadiet.data import normalization
from datadiet.stages import offset_sweep
from datadiet.train import checkpoints, loop


def test_validation_split_is_fixed_and_disjoint_from_the_pool(dynamics_run):
  _, ctx = dynamics_run
  pool, validation = offset_sweep.split_validation(ctx)
  noisy_pool, noisy_validation = offset_sweep.split_validation(ctx.with_label_noise(0.2))
  num = len(ctx.data.train['label'])
  assert len(validation) == round(0.1 * num) and len(pool) + len(validation) == num
  assert not set(pool) & set(validation)
  np.testing.assert_array_equal(validation, noisy_validation)  # Same examples at every level.
  np.testing.assert_array_equal(pool, noisy_pool)


@pytest.mark.parametrize('noise', [0.0, 0.2])
def test_windows_drop_exactly_the_offset_hardest_of_the_pool(dynamics_run, noise):
  _, ctx = dynamics_run
  ctx = ctx.with_label_noise(noise)
  pool, validation = offset_sweep.split_validation(ctx)
  scores = ctx.mean_score('el2n')
  # Naive: the pool's examples from the hardest down, skip `offset`, take `size`.
  hardest_first = sorted(pool.tolist(), key=lambda p: (-scores[p], p))
  for window in offset_sweep.windows(ctx):
    kept = offset_sweep._positions(ctx, window, pool)  # pylint: disable=protected-access
    assert len(kept) == window['size'] == round(0.4 * len(pool))
    assert not set(kept.tolist()) & set(validation.tolist())
    if window['window'] == 'offset':
      assert window['offset'] == round(window['offset_fraction'] * len(pool))
      expected = hardest_first[window['offset']:window['offset'] + window['size']]
      assert sorted(kept.tolist()) == sorted(expected)


def test_validation_accuracy_is_the_saved_models_accuracy_on_the_held_out_split(dynamics_run):
  workdir, ctx = dynamics_run
  ctx = ctx.with_label_noise(0.2)
  settings = offset_sweep.selection_settings(ctx)
  window_dir = ctx.settings_dir('offset_sweep', settings) / 'offset-0.2'
  result = json.loads((window_dir / 'result.json').read_text())
  run = loop.setup(ctx.config, ctx.data, list(ctx.config.retrain.seeds))
  mngr = checkpoints.manager(window_dir / 'checkpoints')
  state = jax.device_get(checkpoints.restore(mngr, result['steps'], run.state))
  _, validation = offset_sweep.split_validation(ctx)
  model = models.get_model('small_cnn', num_classes=10)
  images = normalization.normalize(ctx.data.train['image'][validation],
                                   normalization.channel_stats(ctx.data.train['image']))
  for k in range(2):
    correct = 0
    for i, position in enumerate(validation):  # One example at a time, noisy labels.
      logits = model.apply({'params': jax.tree.map(lambda x: x[k], state.params),
                            'batch_stats': jax.tree.map(lambda x: x[k], state.batch_stats)},
                           images[i:i + 1], train=False)
      correct += int(jnp.argmax(logits[0]) == ctx.train_labels[position])
    assert result['validation_accuracy'][k] == pytest.approx(correct / len(validation))
  rows = json.loads((workdir / 'offset_sweep.json').read_text())
  mine = [r for r in rows if r['label_noise'] == 0.2 and r['offset_fraction'] == 0.2]
  assert [r['validation_accuracy'] for r in mine] == result['validation_accuracy']


def test_best_offset_is_chosen_on_validation_not_test():
  def row(offset, seed, validation, test):
    return dict(label_noise=0.1, window='offset', offset_fraction=offset, offset=int(offset * 100),
                seed=seed, validation_accuracy=validation, test_accuracy=test)
  rows = [row(0.0, 0, 0.5, 0.9), row(0.0, 1, 0.5, 0.9),
          row(0.1, 0, 0.8, 0.7), row(0.1, 1, 0.6, 0.7),  # Best mean validation (0.7).
          row(0.3, 0, 0.6, 0.6), row(0.3, 1, 0.6, 0.6),
          dict(row(0.0, 0, 0.3, 0.4), window='random', offset_fraction=None, offset=None)]
  best = offset_sweep.best_offsets(rows)['0.1']
  assert best['chosen_offset_fraction'] == 0.1 and best['chosen_offset'] == 10
  assert best['chosen_test_accuracy'] == pytest.approx(0.7)
  assert best['test_best_offset_fraction'] == 0.0 and best['test_best_accuracy'] == 0.9
  assert best['random_window_test_accuracy'] == pytest.approx(0.4)


def test_files_and_summary(dynamics_run):
  workdir, ctx = dynamics_run
  rows = json.loads((workdir / 'offset_sweep.json').read_text())
  # 2 noise levels × (3 offsets + a random window) × 2 seeds.
  assert len(rows) == 2 * 4 * 2
  assert (workdir / 'offset_sweep.csv').read_text().count('\n') == len(rows) + 1
  assert all(0.0 <= r['test_accuracy'] <= 1.0 and r['steps'] == 40 for r in rows)
  best = json.loads((workdir / 'offset_sweep_best.json').read_text())
  assert set(best) == {'0', '0.2'}
  assert (workdir / 'offset_sweep.png').stat().st_size > 0
  assert (workdir / 'label_noise_0.2' / 'label_noise.npz').exists()
  with np.load(workdir / 'label_noise_0.2' / 'label_noise.npz') as saved:
    assert saved['is_noisy'].mean() == pytest.approx(0.2, abs=1e-3)
  summary = (workdir / 'summary.md').read_text()
  assert '## Offset sweep' in summary and '![offset sweep](offset_sweep.png)' in summary
  assert 'results.csv' not in {p.name for p in workdir.iterdir()}  # No retrain stage here.


def test_other_window_settings_train_into_other_directories(dynamics_run):
  """A sweep continued with another score step, window size or validation split never reuses
  the old results (the window names alone would match)."""
  _, ctx = dynamics_run
  base = offset_sweep.selection_settings(ctx)
  assert (ctx.settings_dir('offset_sweep', base) / 'offset-0.2' / 'result.json').exists()
  for field, value in (('analyses.offset_sweep.fraction_kept', 0.3),
                       ('analyses.offset_sweep.validation_seed', 1),
                       ('analyses.offset_sweep.step', 10), ('prune.seed', 2)):
    config = ctx.config.copy_and_resolve_references()
    config.update_from_flattened_dict({field: value})
    assert offset_sweep.selection_settings(type(ctx)(config, ctx.workdir)) != base, field
