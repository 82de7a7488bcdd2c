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
      3: ([0, 0, 0, 0, 0], 5),  # never learned → max presentations (5)
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
  # Examples 2 and 3 were never presented, hence never learned: they get max presentations.
  np.testing.assert_array_equal(np.asarray(forgetting.scores(state)), [1, 0, 2, 2])
