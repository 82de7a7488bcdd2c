"""Logit scores against NumPy formulas written from their definitions."""

import jax
import numpy as np
import pytest

from datadiet import errors
from datadiet.scores import el2n, entropy, l1_error, loss, margin, prob_margin


def _batch(seed=0, batch=9, classes=5):
  rng = np.random.default_rng(seed)
  return (rng.normal(size=(batch, classes)).astype(np.float32) * 3,
          rng.integers(0, classes, size=batch))


def _softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def test_el2n_matches_numpy():
  logits, labels = _batch()
  onehot = np.eye(logits.shape[1])[labels]
  want = np.sqrt(((_softmax(logits.astype(np.float64)) - onehot) ** 2).sum(-1))
  np.testing.assert_allclose(np.asarray(el2n(logits, labels)), want, rtol=1e-6)


def test_el2n_hand_computed():
  # Two classes, equal logits: p = (½, ½), error (−½, ½) → ‖·‖ = √½.
  np.testing.assert_allclose(np.asarray(el2n(np.zeros((1, 2)), np.array([0]))), [np.sqrt(.5)],
                             rtol=1e-7)


def test_loss_margin_entropy_match_numpy():
  logits, labels = _batch(1)
  probs = _softmax(logits.astype(np.float64))
  rows = np.arange(len(labels))
  np.testing.assert_allclose(np.asarray(loss(logits, labels)), -np.log(probs[rows, labels]),
                             rtol=1e-5)
  others = logits.copy()
  others[rows, labels] = -np.inf
  np.testing.assert_allclose(np.asarray(margin(logits, labels)),
                             others.max(-1) - logits[rows, labels], rtol=1e-6)
  np.testing.assert_allclose(np.asarray(entropy(logits)), -(probs * np.log(probs)).sum(-1),
                             rtol=1e-5)


def test_official_l1_error_and_probability_margin_match_numpy():
  logits, labels = _batch(4)
  probs = _softmax(logits.astype(np.float64))
  rows = np.arange(len(labels))
  onehot = np.eye(logits.shape[1])[labels]
  want_l1 = np.abs(probs - onehot).sum(-1)
  np.testing.assert_allclose(np.asarray(l1_error(logits, labels)), want_l1, rtol=1e-5)
  np.testing.assert_allclose(want_l1, 2 * (1 - probs[rows, labels]), rtol=1e-12)  # Its identity.
  others = probs.copy()
  others[rows, labels] = -np.inf
  np.testing.assert_allclose(np.asarray(prob_margin(logits, labels)),
                             others.max(-1) - probs[rows, labels], rtol=1e-5, atol=1e-7)


def test_probability_margin_hand_computed():
  # Logits (0, log 3): p = (¼, ¾); label 0 → ¾ − ¼ = ½ (misclassified), label 1 → −½.
  logits = np.log(np.array([[1.0, 3.0], [1.0, 3.0]]))
  np.testing.assert_allclose(np.asarray(prob_margin(logits, np.array([0, 1]))), [0.5, -0.5],
                             rtol=1e-6)


def test_margin_positive_exactly_when_misclassified():
  logits, labels = _batch(2, batch=50)
  misclassified = logits.argmax(-1) != labels
  np.testing.assert_array_equal(np.asarray(margin(logits, labels)) > 0, misclassified)


@pytest.mark.parametrize('fn', [el2n, l1_error, prob_margin, loss, margin, entropy])
def test_mask_zeroes_padding_under_jit(fn):
  logits, labels = _batch(3)
  mask = np.arange(len(labels)) < 6
  got = np.asarray(jax.jit(fn)(logits, labels, mask))
  np.testing.assert_array_equal(got[~mask], 0)
  np.testing.assert_allclose(got[mask], np.asarray(fn(logits[:6], labels[:6])), rtol=1e-6)


@pytest.mark.parametrize('fn', [el2n, loss, margin])
def test_out_of_range_label_is_refused_eagerly_and_nan_under_jit(fn):
  logits, labels = _batch(4)
  labels[2] = logits.shape[1]  # One past the last class.
  with pytest.raises(errors.InputError, match=r'1 labels outside \[0, 5\) \(the first, 5, at '
                                              r'position 2\)'):
    fn(logits, labels)
  got = np.asarray(jax.jit(fn)(logits, labels))
  assert np.isnan(got[2]) and np.isfinite(np.delete(got, 2)).all()
  # Padding may hold any label: masked out, it is neither refused nor NaN.
  mask = np.arange(len(labels)) != 2
  assert np.asarray(fn(logits, labels, mask))[2] == 0
  assert np.asarray(jax.jit(fn)(logits, labels, mask))[2] == 0
  labels[2] = -1
  with pytest.raises(errors.InputError, match='outside'):
    fn(logits, labels)


@pytest.mark.parametrize('fn', [el2n, l1_error, prob_margin, loss, margin, entropy])
@pytest.mark.parametrize('use_jit', [False, True])
def test_shapes_are_checked_eagerly_and_under_jit(fn, use_jit):
  logits, labels = _batch(5)
  call = jax.jit(fn) if use_jit else fn
  with pytest.raises(errors.InputError, match=r'mask must have shape \(9,\).*got \(8,\)'):
    call(logits, labels, np.ones(8, bool))
  with pytest.raises(errors.InputError, match=r'logits must have shape \(batch, classes\)'):
    call(logits[None], labels)
  if fn is entropy:
    return  # Label-free.
  with pytest.raises(errors.InputError, match=r'labels must have shape \(9,\).*got \(9, 5\); '
                                              'pass class indices, not one-hot'):
    call(logits, np.eye(5)[labels])
  with pytest.raises(errors.InputError, match=r'got \(8,\)'):
    call(logits, labels[:8])
  with pytest.raises(errors.InputError, match='labels must be integer class indices'):
    call(logits, labels.astype(np.float32))


@pytest.mark.parametrize('fn', [el2n, l1_error, prob_margin, loss, margin, entropy])
def test_a_mask_that_is_not_boolean_is_refused(fn):
  logits, labels = _batch(6)
  with pytest.raises(errors.InputError, match=r'mask must be boolean .* got dtype float32; pass '
                                              r'mask.astype\(bool\)'):
    fn(logits, labels, np.linspace(0, 2, len(labels)).astype(np.float32))
