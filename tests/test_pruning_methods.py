"""The registry of pruning methods: each method's selection, options and checks."""

import ml_collections
import numpy as np
import pytest

from datadiet import errors, pruning, pruning_methods


def _config(**kwargs):
  """A config whose prune.kwargs holds ``kwargs`` (method -> options)."""
  return ml_collections.ConfigDict(dict(prune=dict(kwargs=kwargs)))


def test_every_method_selects_as_its_pruning_function():
  rng = np.random.default_rng(0)
  scores, labels = rng.random(40), rng.integers(0, 3, 40)
  config = _config(offset=dict(fraction=0.1, offset_from='hardest'),
                   ccs=dict(num_strata=3, hard_cutoff=0.2))
  want = {
      'keep_hardest': pruning.keep_hardest(scores, 10),
      'offset': pruning.keep_hardest(scores, 10, offset=4),
      'class_balanced': pruning.class_balanced(pruning.keep_hardest, scores, labels, 10),
      'ccs': pruning.coverage_centric(scores, 10, seed=7, num_strata=3, hard_cutoff=0.2),
      'random': pruning.random_subset(40, 10, 7),
  }
  # The built-in methods, in registration order (one added later may sit anywhere among them).
  assert [name for name in pruning_methods.METHODS if name in want] == list(want)
  for name in want:
    method = pruning_methods.get(name)
    got = method.select(scores if method.uses_scores else None, labels, 10, 7,
                        **method.resolve(method.options(config), 0.75))
    np.testing.assert_array_equal(got, want[name], err_msg=name)


def test_unknown_method_and_duplicate_registration():
  with pytest.raises(errors.InputError, match=r"Unknown pruning methods \['easiest'\]; valid "
                                              r'methods: keep_hardest, offset, .*random') as e:
    pruning_methods.check(['random', 'easiest'])
  assert str(e.value).endswith(f'valid methods: {", ".join(pruning_methods.METHODS)}.')
  with pytest.raises(ValueError, match="'random' is registered already"):
    pruning_methods.METHODS.register(pruning_methods.Method('random', False, lambda *a: None))


def test_options_default_to_the_registration_and_unknown_ones_are_refused():
  offset = pruning_methods.get('offset')
  assert offset.options(_config()) == dict(fraction=0.02, offset_from='hardest')
  assert offset.options(_config(offset=dict(fraction=0.3))) == dict(fraction=0.3,
                                                                    offset_from='hardest')
  assert pruning_methods.get('keep_hardest').options(_config(offset=dict(fraction=0.3))) == {}
  with pytest.raises(errors.InputError, match=r'config.prune.kwargs.offset sets fractoin, which '
                                              r'the offset method does not take; its options: '
                                              r'fraction, offset_from\.'):
    offset.options(_config(offset=dict(fractoin=0.3)))
  assert pruning_methods.default_kwargs() == dict(
      offset=dict(fraction=0.02, offset_from='hardest'),
      ccs=dict(num_strata=50, hard_cutoff=0.02, hard_cutoffs=(), cutoff_score=''),
      random=dict(per_seed=True))


def test_options_and_subsets_are_checked_by_their_method():
  offset, ccs = pruning_methods.get('offset'), pruning_methods.get('ccs')
  with pytest.raises(errors.InputError,
                     match=r'config.prune.kwargs.offset.fraction must be in \[0, 1\)'):
    offset.check_options(dict(fraction=1.5))
  with pytest.raises(errors.InputError,
                     match='config.prune.kwargs.ccs.num_strata must be an integer >= 1'):
    ccs.check_options(dict(num_strata=True, hard_cutoff=0.1, hard_cutoffs=(), cutoff_score=''))
  with pytest.raises(errors.InputError, match=r'hard_cutoffs must be pairs'):
    ccs.check_options(dict(num_strata=5, hard_cutoff=0.1, hard_cutoffs=(0.9,), cutoff_score=''))
  subset = dict(name='offset-el2n@10-p0.5', fraction_pruned=0.5)
  with pytest.raises(errors.InputError, match=r'skipping the 24 hardest .* needs 44 examples, '
                                              r'but the dataset has 40'):
    offset.check_subset(dict(fraction=0.6, offset_from='hardest'), 40, 20, subset)
  offset.check_subset(dict(fraction=0.5, offset_from='easiest'), 40, 20, subset)
  with pytest.raises(errors.InputError, match=r'offset_from must be one of hardest, easiest'):
    offset.check_options(dict(fraction=0.1, offset_from='top'))


def test_an_offset_from_the_easiest_end_is_the_authors_argsort_band():
  """The authors' code keeps ``argsort(scores)[offset:offset + size]``; the paper's band counts
  the offset from the hardest end; both are the same band seen from either end."""
  scores = np.random.default_rng(1).permutation(50).astype(float)  # No ties.
  offset = pruning_methods.get('offset')
  for fraction, size in ((0.0, 10), (0.1, 20), (0.3, 35)):
    easiest = offset.select(scores, None, size, 0, fraction=fraction, offset_from='easiest')
    skip = int(round(fraction * 50))
    np.testing.assert_array_equal(easiest, np.sort(np.argsort(scores)[skip:skip + size]))
    hardest = offset.select(scores, None, size, 0, fraction=fraction, offset_from='hardest')
    np.testing.assert_array_equal(hardest, np.sort(np.argsort(-scores)[skip:skip + size]))
    # The same band from the other end: dropping n − skip − size of the hardest.
    np.testing.assert_array_equal(easiest, offset.select(
        scores, None, size, 0, fraction=(50 - skip - size) / 50, offset_from='hardest'))


def test_ccs_as_published_cuts_by_another_score_with_beta_per_pruning_rate():
  """Zheng et al. (2023): the hardest by AUM are cut (β of them, β set per pruning rate), the
  rest stratified by the chosen score."""
  rng = np.random.default_rng(2)
  scores, aum = rng.random(200), rng.random(200)
  ccs = pruning_methods.get('ccs')
  options = dict(num_strata=5, hard_cutoff=0.05, hard_cutoffs=((0.9, 0.3),), cutoff_score=aum)
  at_90 = ccs.resolve(options, 0.9)
  assert at_90['hard_cutoff'] == 0.3 and ccs.resolve(options, 0.5)['hard_cutoff'] == 0.05
  kept = ccs.select(scores, None, 20, 4, **at_90)
  np.testing.assert_array_equal(kept, pruning.coverage_centric(
      scores, 20, seed=4, num_strata=5, hard_cutoff=0.3, cutoff_scores=aum))
  hardest_by_aum = np.argsort(-aum, kind='stable')[:60]
  assert not set(kept) & set(hardest_by_aum)  # None of the 30% hardest by AUM is kept.
  # Without a cutoff score the stratified score is cut, as before.
  plain = ccs.resolve(dict(options, cutoff_score=''), 0.9)
  np.testing.assert_array_equal(ccs.select(scores, None, 20, 4, **plain),
                                pruning.coverage_centric(scores, 20, seed=4, num_strata=5,
                                                         hard_cutoff=0.3))
