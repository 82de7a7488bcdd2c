"""A registry: the one list of the things of an extension point (scores, pruning methods, ...).

Entries have a ``name``; a name is registered once, in order, and looking up an unknown name is
one clear error that lists the valid ones.

Example::

  SCORES = Registry('score', 'scores')
  SCORES.register(Score('el2n', ...))
  SCORES['el2n']          # the entry;  SCORES['grnd'] → InputError naming the valid scores
  SCORES.check(config.scores.names)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

from datadiet import errors

Entry = TypeVar('Entry')


class Registry(Mapping[str, Entry], Generic[Entry]):
  """Named entries of one kind, in registration order."""

  def __init__(self, noun: str, short_plural: str):
    """``noun``: what an entry is ('pruning method'); ``short_plural``: how the valid ones are
    listed ('methods')."""
    self._noun, self._short_plural = noun, short_plural
    self._entries: dict[str, Entry] = {}

  def register(self, entry: Entry) -> Entry:
    """Adds ``entry`` under ``entry.name``, which must be new."""
    if entry.name in self._entries:
      raise ValueError(f'A {self._noun} named {entry.name!r} is registered already.')
    self._entries[entry.name] = entry
    return entry

  def check(self, names: Iterable[str]) -> None:
    """Raises an InputError naming the valid entries if any of ``names`` is unknown."""
    unknown = sorted(set(names) - set(self._entries))
    if unknown:
      raise errors.InputError(f'Unknown {self._noun}s {unknown}; valid {self._short_plural}: '
                              f'{", ".join(self._entries)}.')

  def __getitem__(self, name: str) -> Entry:
    self.check([name])
    return self._entries[name]

  def __contains__(self, name: object) -> bool:
    # Mapping's would look the name up, and an unknown name is an error there, not False.
    return name in self._entries

  def get(self, name: str, default=None):
    return self._entries.get(name, default)

  def __iter__(self) -> Iterator[str]:
    return iter(self._entries)

  def __len__(self) -> int:
    return len(self._entries)
