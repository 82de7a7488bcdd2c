"""How reliable a score's ranking is: agreement between disjoint seed groups, between one seed
and the ensemble, and between scoring steps.

All are Spearman rank correlations over the examples of one split:

- ``stability``: the mean score of one half of the seeds against the other half's (seeds split
  by alternating position, so both halves span the list); 1 means the ranking does not depend
  on which seeds computed it. Needs ≥ 2 seeds.
- ``single_vs_mean``: each seed's ranking against the K-seed mean (inflated by the seed's own
  share of the mean) and ``single_vs_others`` against the mean of the other K − 1 seeds (not
  inflated): how much a single run loses against averaging, which the paper recommends.
- ``between_steps``: the K-seed mean at one scoring step against the next.
"""

from __future__ import annotations

import numpy as np
import scipy.stats


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
  """Spearman's ρ, or ``None`` where either input is constant (ρ undefined)."""
  if np.ptp(a) == 0 or np.ptp(b) == 0:
    return None
  return float(scipy.stats.spearmanr(a, b).statistic)


def seed_diagnostics(per_seed: np.ndarray) -> dict:
  """``stability``, ``single_vs_mean`` and ``single_vs_others`` of one score's ``(K, N)``
  per-seed values (the first is ``None`` and the last empty for K = 1)."""
  per_seed = np.asarray(per_seed, np.float64)
  num_seeds = len(per_seed)
  mean = per_seed.mean(0)
  out = {'num_seeds': num_seeds,
         'single_vs_mean': [spearman(s, mean) for s in per_seed],
         'single_vs_others': [], 'stability': None}
  if num_seeds >= 2:
    total = per_seed.sum(0)
    out['single_vs_others'] = [spearman(s, (total - s) / (num_seeds - 1)) for s in per_seed]
    out['stability'] = spearman(per_seed[0::2].mean(0), per_seed[1::2].mean(0))
  return out


def between_steps(means: dict[int, np.ndarray]) -> dict[str, float | None]:
  """``{'a→b': ρ}`` between the mean scores of consecutive scoring steps ``a < b``."""
  steps = sorted(means)
  return {f'{a}→{b}': spearman(means[a], means[b]) for a, b in zip(steps, steps[1:])}
