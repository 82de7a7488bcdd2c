"""Score diagnostics against direct computations and known extremes."""

import numpy as np
import pytest
import scipy.stats

from datadiet.dynamics import diagnostics


def test_identical_seeds_are_perfectly_stable():
  scores = np.random.default_rng(0).normal(size=500)
  out = diagnostics.seed_diagnostics(np.stack([scores] * 4))
  assert out['stability'] == pytest.approx(1.0)
  assert out['single_vs_mean'] == pytest.approx([1.0] * 4)
  assert out['single_vs_others'] == pytest.approx([1.0] * 4)


def test_independent_seeds_agree_only_by_chance():
  per_seed = np.random.default_rng(1).normal(size=(4, 20_000))
  out = diagnostics.seed_diagnostics(per_seed)
  assert abs(out['stability']) < 0.03
  assert all(abs(r) < 0.03 for r in out['single_vs_others'])
  # Against the mean that includes it, a seed correlates by its share: ρ ≈ 1/√K = 0.5.
  assert out['single_vs_mean'] == pytest.approx([0.5] * 4, abs=0.03)


def test_matches_a_direct_computation():
  rng = np.random.default_rng(2)
  signal = rng.normal(size=300)
  per_seed = signal + rng.normal(size=(3, 300))
  out = diagnostics.seed_diagnostics(per_seed)
  halves = per_seed[[0, 2]].mean(0), per_seed[1]
  assert out['stability'] == pytest.approx(scipy.stats.spearmanr(*halves).statistic)
  others = (per_seed[1] + per_seed[2]) / 2
  assert out['single_vs_others'][0] == pytest.approx(
      scipy.stats.spearmanr(per_seed[0], others).statistic)
  assert 0.3 < out['stability'] < 0.9  # A shared signal under noise.


def test_one_seed_and_constant_scores():
  out = diagnostics.seed_diagnostics(np.arange(10.0)[None])
  assert out['stability'] is None and out['single_vs_others'] == []
  assert out['single_vs_mean'] == [pytest.approx(1.0)]
  assert diagnostics.spearman(np.ones(5), np.arange(5.0)) is None


def test_between_consecutive_steps():
  x = np.arange(50.0)
  out = diagnostics.between_steps({20: -x, 0: x, 10: x ** 3})
  assert out == {'0→10': pytest.approx(1.0), '10→20': pytest.approx(-1.0)}
