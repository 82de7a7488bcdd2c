"""AUM against a plain loop over presentations, and through training and scoring."""

import jax
import jax.numpy as jnp
import numpy as np

from configs import train as train_config
from datadiet import scoring
from datadiet.data import sources
from datadiet.scores import aum, registry
from datadiet.train import loop


def _margin(logits, label):
  """The definition: assigned logit minus the largest other logit."""
  others = np.delete(logits, label)
  return logits[label] - others.max()


def test_matches_a_plain_loop_over_presentations():
  rng = np.random.default_rng(0)
  num_examples, classes = 6, 4
  labels = rng.integers(0, classes, num_examples)
  margins = {i: [] for i in range(num_examples)}
  state = aum.init(num_examples)
  update = jax.jit(lambda s, ids, logits, y: aum.update(s, ids, aum.observe(logits, y)))
  for _ in range(5):
    ids = rng.choice(num_examples, 4, replace=True)  # Repeats: a batch across two epochs.
    logits = rng.normal(size=(4, classes)).astype(np.float32) * 3
    for row, i in enumerate(ids):
      margins[i].append(_margin(logits[row], labels[i]))
    state = update(state, jnp.asarray(ids), jnp.asarray(logits), jnp.asarray(labels[ids]))
  want = [-np.mean(m) if m else 0.0 for m in margins.values()]  # −AUM; 0 for never seen.
  np.testing.assert_allclose(np.asarray(aum.scores(state)), want, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(np.asarray(state.presentations),
                                [len(m) for m in margins.values()])


def test_registered_as_a_training_time_score():
  score = registry.get('aum')
  assert score.needs == 'tracker' and score.tracker is aum.TRACKER
  assert registry.trackers_for(['el2n', 'aum']) == (aum.TRACKER,)


def test_through_training_and_scoring(tmp_path):
  config = train_config.get_config()
  config.update_from_flattened_dict({
      'model.name': 'mlp', 'optim.budget_unit': 'steps', 'optim.budget': 20,
      'optim.batch_size': 32, 'runtime.log_every_steps': 10, 'runtime.tensorboard': False})
  data = sources.load('digits')
  result = loop.train_ensemble(config, tmp_path, data, seeds=[0, 1], trackers=(aum.TRACKER,))
  state = result.state.trackers['aum']
  # 20 steps of 32 per seed: every presentation counted once.
  assert np.asarray(state.presentations).sum(axis=1).tolist() == [640, 640]
  run = loop.setup(config, data, [0, 1], trackers=(aum.TRACKER,))
  examples = run.examples({'image': data.train['image'], 'label': data.train['label']})
  got = scoring.score_split(run.model, result.state, examples, data.train['id'], ('aum',), 64)
  np.testing.assert_allclose(got['aum'], np.asarray(jax.vmap(aum.scores)(state)), rtol=1e-6)
  assert np.isfinite(got['aum']).all() and (got['aum'] != 0).any()

