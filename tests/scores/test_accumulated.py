"""Accumulated scores against a plain loop over presentations, and through a pipeline run."""

import jax
import jax.numpy as jnp
import numpy as np

from configs import default as pipeline_config
from datadiet import experiment, score_files
from datadiet.scores import accumulated, registry
from datadiet.train import checkpoints, loop


def _softmax(z):
  e = np.exp(z - z.max())
  return e / e.sum()


def test_sums_and_variance_match_a_plain_loop_over_presentations():
  rng = np.random.default_rng(0)
  num_examples, classes = 6, 4
  labels = rng.integers(0, classes, num_examples)
  seen = {i: {'el2n': [], 'loss': [], 'p': []} for i in range(num_examples)}
  states = {t.name: t.init(num_examples) for t in (accumulated.EL2N_SUM, accumulated.LOSS_SUM,
                                                     accumulated.LABEL_PROBABILITY)}
  trackers = {t.name: t for t in (accumulated.EL2N_SUM, accumulated.LOSS_SUM,
                                   accumulated.LABEL_PROBABILITY)}
  for _ in range(6):
    ids = rng.choice(num_examples, 4, replace=True)  # Repeats: a batch across two epochs.
    logits = rng.normal(size=(4, classes)).astype(np.float32) * 2
    for row, i in enumerate(ids):
      p = _softmax(logits[row].astype(np.float64))
      seen[i]['el2n'].append(np.linalg.norm(p - np.eye(classes)[labels[i]]))
      seen[i]['loss'].append(-np.log(p[labels[i]]))
      seen[i]['p'].append(p[labels[i]])
    for name, tracker in trackers.items():
      observed = tracker.observe(jnp.asarray(logits), jnp.asarray(labels[ids]))
      states[name] = jax.jit(tracker.update)(states[name], jnp.asarray(ids), observed)
  np.testing.assert_allclose(np.asarray(accumulated.total(states['el2n_sum'])),
                             [np.sum(s['el2n']) for s in seen.values()], rtol=1e-5)
  np.testing.assert_allclose(np.asarray(accumulated.total(states['loss_sum'])),
                             [np.sum(s['loss']) for s in seen.values()], rtol=1e-5)
  np.testing.assert_allclose(np.asarray(accumulated.variance(states['label_probability'])),
                             [np.var(s['p']) if s['p'] else 0.0 for s in seen.values()],
                             rtol=1e-4, atol=1e-6)


def test_registered_at_every_scoring_step():
  for name in ('el2n_sum', 'loss_sum', 'dynamic_uncertainty'):
    score = registry.get(name)
    assert score.needs == 'tracker' and score.at_score_steps
  assert registry.trackers_for(['el2n_sum', 'loss_sum', 'el2n_sum']) == (
      accumulated.EL2N_SUM, accumulated.LOSS_SUM)


def test_a_score_at_step_t_accumulates_the_first_t_steps(tmp_path):
  config = pipeline_config.get_config()
  config.update_from_flattened_dict({
      'stages': ('pretrain', 'score', 'prune'), 'pretrain.seeds': (0, 1), 'optim.budget': 20,
      'scores.steps': (0, 10), 'scores.names': ('el2n_sum', 'dynamic_uncertainty'),
      'prune.by': ('el2n_sum@10',), 'prune.methods': ('keep_hardest',),
      'prune.fractions': (0.5,), 'runtime.tensorboard': False, 'runtime.log_every_steps': 10})
  ctx = experiment.run(config, tmp_path)
  ids = ctx.data.train['id']
  at_0 = score_files.load_scores(tmp_path / 'scores' / 'el2n_sum@0.npz', ids=ids)
  assert not at_0.per_seed.any()  # Nothing presented before the first step.
  at_10 = score_files.load_scores(tmp_path / 'scores' / 'el2n_sum@10.npz', ids=ids)
  # Pretraining stopped at the last scoring step (10 of the 20-step schedule); its checkpoint's
  # tracker holds exactly the sums of the first 10 steps.
  run = loop.setup(config, ctx.data, [0, 1], trackers=(accumulated.EL2N_SUM,
                                                       accumulated.LABEL_PROBABILITY))
  state = checkpoints.restore(checkpoints.manager(tmp_path / 'pretrain' / 'checkpoints'), 10,
                              run.state)
  sums = np.asarray(jax.device_get(state.trackers['el2n_sum'].total))
  np.testing.assert_allclose(at_10.per_seed, sums, rtol=1e-6)
  presentations = np.asarray(jax.device_get(state.trackers['el2n_sum'].presentations))
  assert presentations.sum(axis=1).tolist() == [10 * 64, 10 * 64]
  assert (tmp_path / 'subsets' / 'keep_hardest-el2n_sum@10-p0.5.npz').exists()
