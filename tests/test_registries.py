"""The registry behind every extension point: order, one name once, one clear unknown-name error."""

import dataclasses

import pytest

from datadiet import errors
from datadiet.registries import Registry


@dataclasses.dataclass(frozen=True)
class _Thing:
  name: str


def test_entries_in_order_and_looked_up_by_name():
  things = Registry('thing', 'things')
  first, second = things.register(_Thing('b')), things.register(_Thing('a'))
  assert list(things) == ['b', 'a'] and len(things) == 2
  assert things['b'] is first and things['a'] is second
  things.check(['a', 'b'])


def test_a_name_once_and_unknown_names_listed():
  things = Registry('pruning method', 'methods')
  things.register(_Thing('keep'))
  with pytest.raises(ValueError, match="A pruning method named 'keep' is registered already"):
    things.register(_Thing('keep'))
  with pytest.raises(errors.InputError, match=r"Unknown pruning methods \['drop', 'x'\]; valid "
                                              r'methods: keep\.'):
    things.check(['x', 'keep', 'drop'])
  with pytest.raises(errors.InputError, match=r"Unknown pruning methods \['drop'\]"):
    things['drop']  # pylint: disable=pointless-statement


def test_membership_and_get_never_raise():
  from datadiet.scores import registry
  assert 'el2n' in registry.SCORES and 'grnd' not in registry.SCORES
  assert registry.SCORES.get('grnd') is None and registry.SCORES.get('el2n').name == 'el2n'
