"""The score registry: the one list of scores, what each needs, and clear errors."""

import jax.numpy as jnp
import numpy as np
import pytest

from datadiet import errors
from datadiet.scores import registry


def test_unknown_score_lists_the_valid_ones():
  with pytest.raises(errors.InputError, match=r"Unknown scores \['grnd'\]; valid scores: el2n, "
                                              r'l1_error, .*grand, .*forgetting') as e:
    registry.check(['el2n', 'grnd'])
  assert str(e.value).endswith(f'valid scores: {", ".join(registry.SCORES)}.')
  with pytest.raises(errors.InputError, match='Unknown scores'):
    registry.get('grnd')


def test_a_name_is_registered_once():
  with pytest.raises(ValueError, match="'el2n' is registered already"):
    registry.register(registry.Score('el2n', 'logits', lambda *a: None, 'again'))


def test_what_each_score_needs():
  needs = {name: score.needs for name, score in registry.SCORES.items()}
  assert needs.items() >= {'el2n': 'logits', 'loss': 'logits', 'margin': 'logits',
                           'entropy': 'logits', 'grand': 'model', 'input_norm': 'inputs',
                           'random': 'ids', 'forgetting': 'tracker'}.items()
  for score in registry.SCORES.values():
    assert score.model_free == (score.needs in ('inputs', 'ids'))
    assert (score.tracker is not None) == (score.needs == 'tracker') == (not score.per_batch)


def test_trackers_for_the_configured_scores_only():
  assert registry.trackers_for(['el2n', 'grand']) == ()
  (tracker,) = registry.trackers_for(['el2n', 'forgetting', 'forgetting'])
  assert tracker.name == 'forgetting'
  with pytest.raises(errors.InputError, match='Unknown scores'):
    registry.trackers_for(['forgeting'])


def test_logit_scores_are_called_as_the_registry_says():
  logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
  labels, mask = jnp.array([0, 2]), jnp.array([True, True])
  probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  want = np.linalg.norm(probs - np.eye(3)[labels], axis=-1)
  np.testing.assert_allclose(registry.get('el2n').fn(logits, labels, mask), want, rtol=1e-6)
