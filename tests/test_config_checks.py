"""Checks of config fields by kind, each one line naming the field."""

import pytest

from datadiet import config_checks, errors


def test_distinct_numbers_in_an_interval_or_above_a_bound():
  config_checks.distinct_numbers('a.fractions', (0.0, 0.5), 0, 1, '(0.5,)')
  config_checks.distinct_numbers('a.budgets', (0.5, 20), 0, None, '(5,)')
  for values, message in (((0.5, 1.0), r'a.fractions must be fractions in \[0, 1\), got 1.0'),
                          ((-0.1,), r'got -0.1; e.g. \(0.5,\)'),
                          ((True,), 'got True'),
                          ((0.5, 0.5), r'must list distinct values \(at least one\), got '
                                       r'\(0.5, 0.5\)'),
                          ((), 'at least one')):
    with pytest.raises(errors.InputError, match=message):
      config_checks.distinct_numbers('a.fractions', values, 0, 1, '(0.5,)')
  with pytest.raises(errors.InputError, match=r'a.budgets must be numbers > 0, got 0'):
    config_checks.distinct_numbers('a.budgets', (0, 5), 0, None, '(5,)')
