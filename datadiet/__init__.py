"""datadiet: find the important examples of a training set early in training, prune the rest.

An implementation of Paul, Ganguli & Dziugaite, "Deep Learning on a Data Diet" (NeurIPS 2021).

``datadiet.select(scores, fraction_pruned, method, **options)`` is the pruning methods' function
form for other training loops (:mod:`datadiet.interop`); the scores are :mod:`datadiet.scores`.
"""

__all__ = ['select']


def __getattr__(name):
  # Imported on first use: `import datadiet.<module>` stays as light as that module.
  if name == 'select':
    from datadiet.interop import select  # pylint: disable=g-import-not-at-top
    return select
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
