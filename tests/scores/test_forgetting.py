"""Forgetting counts on hand-written sequences of correct / incorrect presentations."""

import jax
import jax.numpy as jnp
import numpy as np

from datadiet.scores import forgetting


def test_hand_written_sequence():
  # Per example, its correctness at each of 5 presentations, and the count Toneva et al. give:
  sequences = {
      0: ([1, 1, 1, 1, 1], 0),  # learned, never forgotten
      1: ([1, 0, 1, 0, 1], 2),  # forgotten twice
      2: ([0, 0, 1, 1, 0], 1),  # learned late, forgotten at the end
      3: ([0, 0, 0, 0, 0], np.inf),  # never learned → inf, as in the authors' code
      4: ([0, 1, 0, 0, 1], 1),
  }
  state = forgetting.init(5)
  update = jax.jit(forgetting.update)
  order = np.array([3, 0, 4, 1, 2])
  for step in range(5):
    order = np.roll(order, 1)  # A different batch order each epoch.
    correct = np.array([sequences[i][0][step] for i in order], bool)
    state = update(state, jnp.array(order), jnp.array(correct))
  want = [sequences[i][1] for i in range(5)]
  np.testing.assert_array_equal(np.asarray(forgetting.scores(state)), want)
  np.testing.assert_array_equal(np.asarray(state.presentations), 5)


def test_masked_entries_and_unseen_examples():
  state = forgetting.init(4)
  ids = jnp.array([0, 1, 0, 0])  # Rows 2 and 3 are padding that repeats id 0.
  mask = jnp.array([True, True, False, False])
  state = forgetting.update(state, ids, jnp.array([True, True, False, False]), mask)
  state = forgetting.update(state, ids, jnp.array([False, True, True, True]), mask)
  np.testing.assert_array_equal(np.asarray(state.forgotten), [1, 0, 0, 0])
  np.testing.assert_array_equal(np.asarray(state.presentations), [2, 2, 0, 0])
  # Examples 2 and 3 were never presented, hence never learned.
  np.testing.assert_array_equal(np.asarray(forgetting.scores(state)), [1, 0, np.inf, np.inf])


def test_an_id_twice_in_one_batch_is_recorded_at_its_first_occurrence():
  """A batch straddling two epochs of a small kept set can hold an id twice: the counters are
  those of the batch without the repeat, whatever order a backend's scatter would take."""
  state = forgetting.init(3)
  state = forgetting.update(state, jnp.array([0, 1]), jnp.array([True, True]))
  twice = forgetting.update(state, jnp.array([0, 2, 0]), jnp.array([False, True, True]))
  once = forgetting.update(state, jnp.array([0, 2]), jnp.array([False, True]))
  for got, want in zip(jax.tree.leaves(twice), jax.tree.leaves(once)):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  np.testing.assert_array_equal(np.asarray(twice.forgotten), [1, 0, 0])  # 0 was forgotten.
  np.testing.assert_array_equal(np.asarray(twice.presentations), [2, 1, 1])


def test_finite_ranking_orders_means_as_the_authors_inf():
  """The authors' mean over seeds is inf for an example any seed never learned; the stored
  finite values give the same order, more never-learning seeds ranking higher."""
  inf = np.inf
  per_seed = np.array([[0, 7, inf, inf, 3, 1],
                       [1, 7, 2, inf, 0, inf],
                       [0, 6, 1, inf, inf, 0]], np.float32)
  finite = forgetting.finite_ranking(per_seed)
  assert np.isfinite(finite).all()
  mean = finite.mean(axis=0)
  official = per_seed.mean(axis=0)
  learned = np.isfinite(official)
  assert mean[~learned].min() > mean[learned].max()  # Every inf above every finite mean.
  np.testing.assert_array_equal(mean[learned], official[learned])  # Learned ones unchanged.
  assert mean[3] > mean[2] and mean[3] > mean[4]  # Never learned by 3 seeds > by 1 seed.
  # A loop over the definition: inf becomes K · (largest finite + 1) = 3 · 8.
  np.testing.assert_array_equal(finite[~np.isfinite(per_seed)], 24.0)
