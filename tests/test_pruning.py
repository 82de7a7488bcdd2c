"""Subset selection: exact sizes, the right examples, seeded randomness, clear errors."""

import numpy as np
import pytest

from datadiet import errors, pruning


def test_keep_size_and_errors():
  assert pruning.keep_size(10, 0.3) == 7
  assert pruning.keep_size(10, 0.0) == 10
  for bad in (-0.1, 1.0):
    with pytest.raises(ValueError, match=r'must be a number in \[0, 1\)'):
      pruning.keep_size(10, bad)
  with pytest.raises(ValueError, match='keeps none'):
    pruning.keep_size(10, 0.99)


def test_keep_hardest_with_offset():
  scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3, 0.8])
  np.testing.assert_array_equal(pruning.keep_hardest(scores, 3), [1, 3, 5])  # 0.9, 0.8, 0.7
  np.testing.assert_array_equal(pruning.keep_hardest(scores, 3, offset=1), [2, 3, 5])
  np.testing.assert_array_equal(pruning.keep_hardest(np.zeros(4), 2), [0, 1])  # Stable ties.
  with pytest.raises(ValueError, match='offset 4 \\+ size 3 exceeds the 6 examples'):
    pruning.keep_hardest(scores, 3, offset=4)
  with pytest.raises(ValueError, match='empty'):
    pruning.keep_hardest(scores, 0)


def test_random_subsets_differ_by_seed():
  a, b = pruning.random_subset(100, 30, 0), pruning.random_subset(100, 30, 1)
  assert len(a) == len(set(a)) == 30 and not np.array_equal(a, b)
  np.testing.assert_array_equal(a, pruning.random_subset(100, 30, 0))


def test_class_balanced_quotas_and_selection():
  labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
  # Exact shares 3, 1.5, 0.5: floors 3, 1, 0; the spare goes to the first largest remainder.
  assert pruning.class_quotas(labels, 5) == {0: 3, 1: 2, 2: 0}
  assert pruning.class_quotas(labels, 10) == {0: 6, 1: 3, 2: 1}
  assert sum(pruning.class_quotas(labels, 7).values()) == 7
  scores = np.arange(10.0)
  kept = pruning.class_balanced(pruning.keep_hardest, scores, labels, 5)
  np.testing.assert_array_equal(kept, [3, 4, 5, 7, 8])  # The hardest within each class.


def test_ccs_spreads_over_strata_and_drops_the_hardest():
  rng = np.random.default_rng(0)
  # 900 easy examples near 0, 100 spread over (0.5, 1]: top-k would keep only hard ones.
  scores = np.concatenate([rng.uniform(0, 0.05, 900), rng.uniform(0.5, 1.0, 100)])
  kept = pruning.coverage_centric(scores, 200, seed=0, num_strata=10, hard_cutoff=0.01)
  assert len(kept) == len(set(kept)) == 200
  assert not set(np.argsort(-scores)[:10]) & set(kept)  # The 1% hardest are gone.
  assert 50 < np.sum(scores[kept] < 0.05) < 150  # Both regions are covered.
  other = pruning.coverage_centric(scores, 200, seed=1, num_strata=10, hard_cutoff=0.01)
  assert not np.array_equal(kept, other)


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize('select', [
    lambda s: pruning.keep_hardest(s, 3),
    lambda s: pruning.coverage_centric(s, 3, seed=0, num_strata=2),
    lambda s: pruning.class_balanced(pruning.keep_hardest, s, np.arange(len(s)) % 2, 4),
], ids=['keep_hardest', 'coverage_centric', 'class_balanced'])
def test_non_finite_scores_are_refused(select, bad):
  scores = np.linspace(0, 1, 8)
  scores[5] = bad
  # NaN is neither hardest nor easiest: without the check, argsort puts it last (easiest for
  # keep_hardest) and CCS's strata become NaN.
  with pytest.raises(errors.InputError, match=rf'1 of 8 scores are NaN or infinite \(the first, '
                                              rf'{bad}, at position 5\)'):
    select(scores)


def test_per_seed_scores_and_mismatched_labels_are_refused():
  per_seed = np.random.default_rng(0).random((3, 10))
  with pytest.raises(errors.InputError, match=r'scores must be 1-D.*got shape \(3, 10\).*'
                                              r'scores.mean\(axis=0\)'):
    pruning.keep_hardest(per_seed, 4)
  with pytest.raises(errors.InputError, match=r'labels must have one entry per score, shape '
                                              r'\(10,\), got \(9,\)'):
    pruning.class_balanced(pruning.keep_hardest, per_seed[0], np.zeros(9, int), 4)
