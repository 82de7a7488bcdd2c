"""NTK velocity: blocks along the ranking, saved Gram matrices against a materialised Jacobian,
velocities against their definition."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet import errors, models
from datadiet.dynamics import ntk
from datadiet.stages import ntk_velocity
from datadiet.train import checkpoints, loop


def test_blocks_are_contiguous_runs_of_the_ranking_from_lowest_to_highest():
  scores = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 0.0, 6.0, 4.0])
  blocks = ntk_velocity.blocks(scores, block_size=3, num_blocks=3)
  # Ascending order of positions: 7 1 5 3 9 0 8 4 6 2; starts at ranks 0, 4 (round 3.5), 7.
  assert blocks.tolist() == [[7, 1, 5], [9, 0, 8], [4, 6, 2]]


def test_saved_gram_is_the_checkpoints_ntk(dynamics_run):
  workdir, ctx = dynamics_run
  with np.load(ntk_velocity.gram_path(ctx, 20)) as saved:
    gram, positions = saved['gram'], saved['positions']
  assert gram.shape == (4, 6, 6)
  np.testing.assert_array_equal(positions, ntk_velocity.blocks(ctx.mean_score('el2n'), 6, 4))
  run = loop.setup(ctx.config, ctx.data, [0])
  state = jax.device_get(checkpoints.restore(
      checkpoints.manager(workdir / 'ntk_velocity' / 'run' / 'checkpoints'), 20, run.state))
  params = jax.tree.map(lambda x: x[0], state.params)
  stats = jax.tree.map(lambda x: x[0], state.batch_stats)
  model = models.get_model('small_cnn', num_classes=10)
  logits_fn = lambda p, x: model.apply({'params': p, 'batch_stats': stats}, x, train=False)
  block = ctx.normalized_train_images[positions[3]]
  reference = ntk.block_gram(logits_fn, params, jnp.asarray(block), method='jacobian')
  np.testing.assert_allclose(gram[3], reference, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(gram[3], gram[3].T, rtol=1e-5, atol=1e-6)  # A Gram matrix.
  assert np.all(np.linalg.eigvalsh(gram[3].astype(np.float64)) > -1e-3 * np.abs(gram[3]).max())


def test_velocities_follow_the_definition(dynamics_run):
  workdir, ctx = dynamics_run
  rows = json.loads((workdir / 'ntk_velocity.json').read_text())
  # 2 noise levels × 2 consecutive checkpoint pairs × 4 blocks.
  assert len(rows) == 2 * 2 * 4
  for level in (0.0, 0.2):
    grams = {}
    for step in (0, 20, 40):
      with np.load(ntk_velocity.gram_path(ctx.with_label_noise(level), step)) as saved:
        grams[step] = saved['gram'].astype(np.float64)
    for row in (r for r in rows if r['label_noise'] == level):
      a, b = grams[row['from_step']][row['block']], grams[row['to_step']][row['block']]
      expected = 1 - np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b))
      assert row['velocity'] == pytest.approx(expected, abs=1e-5)
      assert 0.0 <= row['velocity'] <= 1.0
    mine = sorted((r for r in rows if r['label_noise'] == level and r['from_step'] == 0),
                  key=lambda r: r['block'])
    assert [r['mean_score'] for r in mine] == sorted(r['mean_score'] for r in mine)
    assert [r['rank_fraction'] for r in mine] == sorted(r['rank_fraction'] for r in mine)
  noisy = [r['noisy_fraction'] for r in rows if r['label_noise'] == 0.2]
  assert max(noisy) > 0 and all(r['noisy_fraction'] == 0 for r in rows if r['label_noise'] == 0)


def test_files_and_summary(dynamics_run):
  workdir, _ = dynamics_run
  assert (workdir / 'ntk_velocity.csv').read_text().count('\n') == 2 * 2 * 4 + 1
  assert (workdir / 'ntk_velocity.png').stat().st_size > 0
  summary = (workdir / 'summary.md').read_text()
  assert '## NTK velocity by score rank' in summary and '| 0.2 | 20→40 |' in summary


def test_saved_grams_of_other_blocks_are_refused_not_reused(dynamics_run):
  _, ctx = dynamics_run
  other_blocks = ntk_velocity.blocks(-ctx.mean_score('el2n'), 6, 4)  # Highest first.
  path = ntk_velocity.gram_path(ctx, 20)
  before = path.stat().st_mtime_ns
  with pytest.raises(errors.InputError, match='holds the Gram matrices of other examples'):
    ntk_velocity._grams(ctx, 20, other_blocks, like=None)  # pylint: disable=protected-access
  assert path.stat().st_mtime_ns == before
