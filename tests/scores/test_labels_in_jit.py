"""Every public score takes labels as a NumPy array, a jax.Array, an argument of a jitted
function or one it closes over, under vmap too, and gives the same numbers; an invalid label is
refused eagerly and NaN inside a trace, whichever way it came."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet import errors, scores

LOGIT_SCORES = [scores.el2n, scores.l1_error, scores.prob_margin, scores.loss, scores.margin]
RNG = np.random.default_rng(0)
LOGITS = jnp.asarray(RNG.normal(size=(6, 4)), jnp.float32)
LABELS = np.array([0, 3, 1, 2, 2, 0])
MASK = jnp.array([True] * 5 + [False])


def _ways(fn, logits, labels, mask):
  """The score computed each way a JAX user passes labels."""
  jax_labels = jnp.asarray(labels)
  return {
      'numpy': fn(logits, np.asarray(labels), mask),
      'jax.Array': fn(logits, jax_labels, mask),
      'jit argument': jax.jit(fn)(logits, jax_labels, mask),
      'jit closed-over jax.Array': jax.jit(lambda z: fn(z, jax_labels, mask))(logits),
      'jit closed-over numpy': jax.jit(lambda z: fn(z, np.asarray(labels), mask))(logits),
      'vmap over a seed axis': jax.vmap(lambda z: fn(z, jax_labels, mask))(
          jnp.stack([logits, logits]))[1],
      'jit of vmap, closed over': jax.jit(jax.vmap(lambda z: fn(z, jax_labels, mask)))(
          jnp.stack([logits, logits]))[0],
  }


@pytest.mark.parametrize('fn', LOGIT_SCORES, ids=lambda f: f.__name__)
def test_logit_scores_agree_however_labels_arrive(fn):
  computed = _ways(fn, LOGITS, LABELS, MASK)
  for way, values in computed.items():
    np.testing.assert_allclose(values, computed['numpy'], rtol=1e-6, err_msg=way)
  # A plain loop, for the one of them the docs write first.
  if fn is scores.el2n:
    for i in range(5):
      p = np.exp(LOGITS[i]) / np.exp(LOGITS[i]).sum()
      np.testing.assert_allclose(computed['numpy'][i], np.linalg.norm(p - np.eye(4)[LABELS[i]]),
                                 rtol=1e-5)


@pytest.mark.parametrize('fn', LOGIT_SCORES, ids=lambda f: f.__name__)
def test_an_invalid_label_is_refused_eagerly_and_nan_in_a_trace(fn):
  bad = LABELS.copy()
  bad[2] = 7
  with pytest.raises(errors.InputError, match=r'1 labels outside \[0, 4\)'):
    fn(LOGITS, jnp.asarray(bad), MASK)
  for traced in (jax.jit(lambda z: fn(z, jnp.asarray(bad), MASK))(LOGITS),
                 jax.jit(fn)(LOGITS, jnp.asarray(bad), MASK)):
    values = np.asarray(traced)
    assert np.isnan(values[2]) and np.isfinite(values[[0, 1, 3, 4]]).all()


def test_a_label_vector_of_the_wrong_length_says_so():
  with pytest.raises(errors.InputError, match=r'got \(5,\); give one label per example of the '
                                              r'batch of 6'):
    scores.el2n(LOGITS, LABELS[:5], MASK)
  with pytest.raises(errors.InputError, match='not one-hot vectors'):
    scores.el2n(LOGITS, np.eye(4)[LABELS], MASK)


class _Tiny(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(4)(nn.relu(nn.Dense(8)(x)))


def test_grand_and_over_seeds_with_jax_labels_inside_jit():
  model = _Tiny()
  x = jnp.asarray(RNG.normal(size=(6, 3)), jnp.float32)
  labels = jnp.asarray(LABELS)
  variables = model.init(jax.random.key(0), x[:1])
  grand = functools.partial(scores.grand, model, apply_kwargs={'train': False})
  eager = grand(variables, x, np.asarray(LABELS), MASK)
  closed = jax.jit(lambda v: grand(v, x, labels, MASK))(variables)
  np.testing.assert_allclose(closed, eager, rtol=1e-5)
  # GraNd against per-example jax.grad, for one example.
  def loss(params, i):
    logits = model.apply({'params': params}, x[i:i + 1])
    return -jax.nn.log_softmax(logits)[0, LABELS[i]]
  gradient = jax.grad(loss)(variables['params'], 1)
  norm = np.sqrt(sum(float(jnp.sum(g ** 2)) for g in jax.tree.leaves(gradient)))
  np.testing.assert_allclose(eager[1], norm, rtol=1e-5)
  # Seeds stacked: over_seeds with closed-over jax labels, jitted, equals each seed alone.
  stacked = scores.stack_seeds([model.init(jax.random.key(k), x[:1]) for k in range(2)])
  per_seed, mean = jax.jit(lambda s: scores.over_seeds(
      lambda v, z: scores.el2n(model.apply(v, z), labels, MASK), s, x))(stacked)
  for k in range(2):
    member = jax.tree.map(lambda leaf, k=k: leaf[k], stacked)
    np.testing.assert_allclose(per_seed[k], scores.el2n(model.apply(member, x), LABELS, MASK),
                               rtol=1e-6)
  np.testing.assert_allclose(mean, per_seed.mean(0), rtol=1e-6)
