"""Scoring a split with an ensemble: only what is asked, per seed, random scores keyed by id."""

import jax
import numpy as np
import optax
import pytest

from datadiet import models, scoring
from datadiet.data import feed, normalization
from datadiet.scores import el2n, grand, norm_tuning
from datadiet.train import ensemble


@pytest.fixture(scope='module')
def ensemble_and_data():
  model = models.get_model('small_cnn', num_classes=3, widths=(3, 4))
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (11, 8, 8, 2), dtype=np.uint8)
  labels = rng.integers(0, 3, 11).astype(np.int32)
  stats = normalization.channel_stats(images)
  mesh = ensemble.make_mesh(2)
  state = ensemble.init_ensemble(model, optax.sgd(0.1), [0, 1],
                                 normalization.normalize(images[0], stats), 11, mesh)
  return model, state, images, labels, stats, mesh


@pytest.mark.parametrize('input_pipeline', ['device', 'tf_data'])
def test_matches_scores_computed_seed_by_seed(ensemble_and_data, input_pipeline):
  model, state, images, labels, stats, mesh = ensemble_and_data
  examples = feed.Examples.create(images, labels, stats, mesh, input_pipeline)
  assert bool(examples.table) == (input_pipeline == 'device')  # Read from a device copy.
  got = scoring.score_split(model, state, examples, np.arange(11), ('grand', 'el2n'),
                            batch_size=4)
  assert list(got) == ['grand', 'el2n'] and got['el2n'].shape == (2, 11)
  normalized = normalization.normalize(images, stats)
  for k in range(2):
    variables = jax.tree.map(lambda a: a[k], {'params': state.params,
                                              'batch_stats': state.batch_stats})
    np.testing.assert_allclose(got['el2n'][k], el2n(model.apply(variables, normalized), labels),
                               rtol=1e-5)
    np.testing.assert_allclose(got['grand'][k], grand(model, variables, normalized, labels),
                               rtol=1e-5)


def test_scoring_as_on_a_gpu_times_the_norm_forms_inside_the_sharded_program(
    ensemble_and_data, monkeypatch):
  """On GPU/TPU, GraNd's 'auto' times the candidate forms while scoring's jit + shard_map +
  seed loop is being traced; the same code path, run on the CPU."""
  model, state, images, labels, stats, mesh = ensemble_and_data
  examples = feed.Examples.create(images, labels, stats, mesh, 'device')
  expected = scoring.score_split(model, state, examples, np.arange(11), ('grand',), 4)['grand']
  monkeypatch.setattr(norm_tuning, '_backend', lambda: 'gpu')
  monkeypatch.setattr(norm_tuning, '_measured', {})
  got = scoring.score_split(model, state, examples, np.arange(11), ('grand',), 4)['grand']
  assert norm_tuning._measured  # pylint: disable=protected-access  (it did time the forms)
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_random_scores_follow_ids_including_strings(ensemble_and_data):
  model, state, images, labels, stats, mesh = ensemble_and_data
  ids = np.array([f'class/{i:03d}.jpg' for i in range(11)])
  examples = lambda order: feed.Examples.create(images[order], labels[order], stats, mesh,  # noqa: E731
                                                'device')
  forward = scoring.score_split(model, state, examples(np.arange(11)), ids, ('random',),
                                4)['random']
  order = np.arange(11)[::-1]
  backward = scoring.score_split(model, state, examples(order), ids[order], ('random',),
                                 4)['random']
  np.testing.assert_array_equal(forward[:, order], backward)



def test_a_pass_killed_midway_resumes_after_its_last_saved_batch(ensemble_and_data, tmp_path,
                                                                 monkeypatch):
  """11 examples in batches of 2 (6 batches), a part saved every 2 batches: a kill during batch
  5 leaves parts for batches 1–4; the relaunch scores batches 5–6 only and equals a whole pass."""
  model, state, images, labels, stats, mesh = ensemble_and_data
  examples = feed.Examples.create(images, labels, stats, mesh, 'device')
  whole = scoring.score_split(model, state, examples, np.arange(11), ('el2n', 'loss'),
                              batch_size=2)
  real_batches = feed.Examples.batches

  def killed_in_batch_5(self, *args, **kwargs):
    for index, batch in enumerate(real_batches(self, *args, **kwargs)):
      if index == 4:
        raise KeyboardInterrupt  # As a kill would stop it.
      yield batch

  partial = tmp_path / '.pass@10'
  monkeypatch.setattr(feed.Examples, 'batches', killed_in_batch_5)
  with pytest.raises(KeyboardInterrupt):
    scoring.score_split(model, state, examples, np.arange(11), ('el2n', 'loss'), batch_size=2,
                        resume_path=partial, save_every_batches=2)
  assert sorted(p.name for p in partial.iterdir()) == ['part_000000002.npz',
                                                       'part_000000004.npz']
  monkeypatch.setattr(feed.Examples, 'batches', real_batches)
  scored = []
  real_to_device = scoring.multihost.to_device
  monkeypatch.setattr(scoring.multihost, 'to_device',
                      lambda batch, sharding: scored.append(1) or real_to_device(batch, sharding))
  resumed = scoring.score_split(model, state, examples, np.arange(11), ('el2n', 'loss'),
                                batch_size=2, resume_path=partial, save_every_batches=2)
  assert len(scored) == 2  # Batches 5 and 6.
  for name in whole:
    np.testing.assert_array_equal(resumed[name], whole[name])
  # Parts of another pass (here: another batch size) are not taken for this one.
  other = scoring.score_split(model, state, examples, np.arange(11), ('el2n', 'loss'),
                              batch_size=4, resume_path=partial, save_every_batches=2)
  np.testing.assert_allclose(other['el2n'], whole['el2n'], rtol=1e-6)
