"""Figure 1 from plain result rows: its bands against NumPy, its panels, what it draws, its tables."""

import numpy as np
import pytest
from matplotlib import colors

from datadiet.reporting import figure1, figures

RNG = np.random.default_rng(0)
SEEDS = (100, 101, 102, 103, 104)


def _rows(method, score, step, fraction, accuracies):
  name = ('full' if method == 'full' else f'{method}-p{fraction:g}' if score is None
          else f'{method}-{score}@{step}-p{fraction:g}')
  return [dict(subset=name, method=method, score=score, step=step, score_model=None if score
               is None else 'airbench', fraction_pruned=fraction, seed=seed, steps=96,
               test_accuracy=float(a)) for seed, a in zip(SEEDS, accuracies)]


def _results():
  """Full set; random and keep-hardest EL2N@48 / GraNd@0 at three fractions; EL2N at four
  steps with half pruned (the top panel); CCS at one fraction only (no curve to draw)."""
  rows = _rows('full', None, None, 0.0, RNG.uniform(0.9, 0.95, 5))
  for fraction in (0.1, 0.5, 0.9):
    rows += _rows('random', None, None, fraction, RNG.uniform(0.5, 0.9, 5))
    for score, step in (('el2n', 48), ('grand', 0)):
      rows += _rows('keep_hardest', score, step, fraction, RNG.uniform(0.4, 0.9, 5))
  for step in (0, 24, 96):
    rows += _rows('keep_hardest', 'el2n', step, 0.5, RNG.uniform(0.6, 0.9, 5))
  rows += _rows('ccs', 'el2n', 48, 0.5, RNG.uniform(0.6, 0.9, 5))
  return rows


def _expected(rows, **match):
  values = [r['test_accuracy'] for r in rows if all(r[k] == v for k, v in match.items())]
  assert len(values) == len(SEEDS)
  return (np.mean(values), np.percentile(values, 16), np.percentile(values, 84))


def test_percentile_band_is_numpys_16th_and_84th_percentile():
  values = RNG.normal(size=7)
  mean, low, high = figure1.percentile_band(values)
  assert mean == pytest.approx(values.mean())
  # By hand for 4 seeds (linear interpolation): the 16th percentile lies 0.48 of the way from
  # the smallest to the second, the 84th 0.52 of the way from the third to the largest.
  _, low, high = figure1.percentile_band([1.0, 2.0, 4.0, 8.0])
  assert (low, high) == pytest.approx((1.48, 4 + 0.52 * 4))
  assert figure1.percentile_band(values)[1:] == pytest.approx(
      tuple(np.percentile(values, [16, 84])))


def test_panels_hold_each_curve_and_the_steps_panel():
  rows = _results()
  data = figure1.panels(rows)
  assert data['full'] == pytest.approx(_expected(rows, method='full'))
  assert [p[0] for p in data['random']] == [0.1, 0.5, 0.9]
  for fraction, *band in data['random']:
    assert band == pytest.approx(_expected(rows, method='random', fraction_pruned=fraction))
  # CCS was pruned at one fraction: no bottom panel for it.
  assert list(data['fractions']) == ['keep_hardest']
  curves = data['fractions']['keep_hardest']
  assert sorted(curves) == ['el2n@48', 'grand@0']  # EL2N at 0, 24, 96: one fraction each.
  for label, points in curves.items():
    score, step = label.split('@')
    for fraction, *band in points:
      assert band == pytest.approx(_expected(rows, method='keep_hardest', score=score,
                                             step=int(step), fraction_pruned=fraction))
  # The top panel: EL2N, the score taken at the most steps, at the fraction it was taken at.
  assert data['steps_fraction'] == 0.5 and list(data['steps']) == [('keep_hardest', 'el2n')]
  points = data['steps'][('keep_hardest', 'el2n')]
  assert [p[0] for p in points] == [0, 24, 48, 96]
  for step, *band in points:
    assert band == pytest.approx(_expected(rows, method='keep_hardest', score='el2n',
                                           step=step, fraction_pruned=0.5))


def test_the_drawn_lines_and_bands_are_the_panels(tmp_path, monkeypatch):
  rows = _results()
  saved = []
  monkeypatch.setattr(figures, 'save_figure', lambda fig, path: saved.append((fig, path)))
  data = figure1.figure1_plot(rows, tmp_path / 'figure1.png', 'digits, mlp')
  (fig, path), = saved
  assert path == tmp_path / 'figure1.png'
  axes = {ax.get_xlabel(): ax for ax in fig.axes}
  top, bottom = axes['scoring step'], axes['fraction of the training set pruned']
  assert 'digits, mlp' in fig._suptitle.get_text() and '16th–84th' in fig._suptitle.get_text()
  for ax, curves in ((bottom, data['fractions']['keep_hardest']),
                     (top, {'keep_hardest, el2n': data['steps'][('keep_hardest', 'el2n')]})):
    lines = {line.get_label(): line for line in ax.get_lines()}
    for label, points in curves.items():
      xs, means, lows, highs = map(np.array, zip(*points))
      np.testing.assert_allclose(lines[label].get_xdata(), xs)
      np.testing.assert_allclose(lines[label].get_ydata(), means)
      # Its band: the polygon's vertices span [low, high] at each x.
      (band,) = [c for c in ax.collections if np.allclose(
          c.get_facecolor()[0][:3], colors.to_rgb(lines[label].get_color()))]
      vertices = band.get_paths()[0].vertices
      for x, low, high in zip(xs, lows, highs):
        at_x = vertices[np.isclose(vertices[:, 0], x), 1]
        np.testing.assert_allclose([at_x.min(), at_x.max()], [low, high])
  assert {'full data', 'random'} <= {line.get_label() for line in bottom.get_lines()}


def test_nothing_to_draw_without_a_curve(tmp_path):
  rows = _rows('full', None, None, 0.0, [0.9] * 5) + _rows('random', None, None, 0.5, [0.8] * 5)
  assert figure1.figure1_plot(rows, tmp_path / 'figure1.png', 'x') == {}
  assert not (tmp_path / 'figure1.png').exists() and figure1.figure1_tables(rows) == []


def test_tables_print_each_panel():
  rows = _results()
  lines = figure1.figure1_tables(rows)
  mean, low, high = _expected(rows, method='keep_hardest', score='grand', step=0,
                              fraction_pruned=0.9)
  (grand,) = [line for line in lines if line.startswith('| grand@0 |')]
  assert grand.endswith(f'| {100 * mean:.1f} [{100 * low:.1f}, {100 * high:.1f}] |')
  assert '| score | 0.1 | 0.5 | 0.9 |' in lines
  assert '| method, score | 0 | 24 | 48 | 96 |' in lines
  (random,) = [line for line in lines if line.startswith('| random |')]
  assert random.count('[') == 3
