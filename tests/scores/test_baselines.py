"""Model-free baselines: random scores keyed by id, input norms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet import errors
from datadiet.scores import input_norm, random_score


def test_random_score_is_keyed_by_id_not_position():
  key = jax.random.key(7)
  ids = np.array([5, 17, 3, 99])
  forward = np.asarray(random_score(key, ids))
  backward = np.asarray(random_score(key, ids[::-1]))
  np.testing.assert_array_equal(forward, backward[::-1])
  assert np.all((forward >= 0) & (forward < 1))
  assert len(set(forward.tolist())) == 4
  other_seed = np.asarray(random_score(jax.random.key(8), ids))
  assert not np.allclose(forward, other_seed)


def test_random_score_masks_padding():
  got = np.asarray(random_score(jax.random.key(0), np.arange(4), np.array([1, 1, 0, 1], bool)))
  assert got[2] == 0 and np.all(got[[0, 1, 3]] > 0)


def test_input_norm_matches_numpy():
  x = np.random.default_rng(0).normal(size=(6, 4, 4, 3)).astype(np.float32)
  np.testing.assert_allclose(np.asarray(input_norm(x)),
                             np.sqrt((x.astype(np.float64) ** 2).sum((1, 2, 3))), rtol=1e-6)
  masked = np.asarray(input_norm(x, np.arange(6) < 2))
  assert np.all(masked[2:] == 0)


def test_a_mask_of_another_length_is_one_clear_error():
  with pytest.raises(errors.InputError, match=r'random_score: mask must have shape \(4,\)'):
    random_score(jax.random.key(0), jnp.arange(4), jnp.ones(3, bool))
  with pytest.raises(errors.InputError, match=r'input_norm: mask must have shape \(4,\)'):
    input_norm(jnp.ones((4, 2, 2)), jnp.ones(3, bool))
