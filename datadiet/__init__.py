"""datadiet: find the important examples of a training set early in training, prune the rest.

An implementation of Paul, Ganguli & Dziugaite, "Deep Learning on a Data Diet" (NeurIPS 2021).

``datadiet.select(scores, fraction_pruned, method, **options)`` is the pruning methods' function
form for other training loops (:mod:`datadiet.interop`); the scores are :mod:`datadiet.scores`.
"""

from datadiet.interop import select

__all__ = ['select']
