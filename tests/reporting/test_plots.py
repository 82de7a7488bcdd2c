"""The report's figures: what each draws, checked on the drawn artists (not the pixels)."""

import numpy as np
import pytest

from datadiet.reporting import figures, plots


@pytest.fixture
def drawn(monkeypatch):
  """The figures handed to save_figure, instead of files."""
  saved = []
  monkeypatch.setattr(figures, 'save_figure', lambda fig, path: saved.append(fig))
  return saved


def _rows(fractions):
  rows = []
  for seed, shift in ((100, 0.0), (101, 0.004)):
    rows.append(dict(subset='full', method='full', score=None, score_model=None,
                     fraction_pruned=0.0, seed=seed, test_accuracy=0.97 + shift))
    for fraction in fractions:
      for method, score, value in (('keep_hardest', 'el2n', 0.975), ('random', None, 0.96)):
        name = f'{method}-p{fraction:g}' if score is None else f'{method}-{score}@60-p{fraction:g}'
        rows.append(dict(subset=name, method=method, score=score, score_model=score and 'mlp',
                         fraction_pruned=fraction, seed=seed,
                         test_accuracy=value - fraction / 100 + shift))
  return rows


def test_accuracy_curves_are_the_seed_means_with_title_band_and_legend_outside(drawn):
  rows = _rows((0.3, 0.5))
  plots.accuracy_plot(rows, 'unused.png', 'digits, mlp: 300 steps')
  (fig,) = drawn
  ax = fig.axes[0]
  lines = {line.get_label(): line for line in ax.get_lines()}
  np.testing.assert_allclose(lines['keep_hardest, el2n'].get_ydata(),
                             [0.975 - 0.003 + 0.002, 0.975 - 0.005 + 0.002])
  assert lines['keep_hardest, el2n'].get_marker() != lines['random'].get_marker()
  assert ax.get_title().startswith('digits, mlp: 300 steps\n')
  assert 'band: min–max over 2 seeds' in ax.get_title()
  assert ax.get_legend().get_bbox_to_anchor().x0 > ax.bbox.x1 - 1  # Right of the data.
  low, high = ax.get_ylim()
  assert high - low >= plots.MIN_SPAN - 1e-9  # Sub-point gaps are not magnified.


def test_one_fraction_is_a_labelled_dot_per_subset(drawn):
  rows = _rows((0.5,))
  plots.accuracy_plot(rows, 'unused.png', 'digits')
  (fig,) = drawn
  ax = fig.axes[0]
  labels = [t.get_text() for t in ax.get_yticklabels()]
  assert labels == ['keep_hardest, el2n', 'random', 'full data']
  (dots,) = [line for line in ax.get_lines() if line.get_marker() == 'o']
  np.testing.assert_allclose(np.asarray(dots.get_xdata(), float), [0.972, 0.957, 0.972])
  assert 'bars: min–max over 2 seeds' in ax.get_title() and '0.5 of the training set' in (
      ax.get_title())


def test_histograms_count_on_a_log_axis_and_name_a_constant_score(drawn):
  values = np.random.default_rng(0).exponential(size=200)
  plots.score_histograms({'el2n@60': values, 'random@0': np.full(200, 0.5)},
                         np.zeros(200, bool), 'unused.png')
  (fig,) = drawn
  trained, constant = fig.axes[:2]
  assert trained.get_yscale() == 'log' and trained.get_xlabel() == 'score'
  assert sum(p.get_height() for p in trained.patches) == 200
  assert 'constant' in constant.texts[0].get_text()


def test_diagnostics_mark_the_seed_free_scores(drawn):
  per_score = {'el2n@60': dict(stability=0.9, single_vs_others=[0.8, 0.9]),
               'random@0': dict(stability=1.0, single_vs_others=[1.0, 1.0])}
  plots.diagnostics_plot(per_score, 'unused.png', constant=('random',))
  (fig,) = drawn
  ax = fig.axes[0]
  assert [t.get_text() for t in ax.texts] == ['seed-free']
  assert ax.texts[0].get_position()[0] == pytest.approx(1 + 0.2)  # On random@0's bars.
  heights = [p.get_height() for p in ax.patches]
  assert heights == pytest.approx([0.9, 1.0, 0.85, 1.0])
  assert ax.get_title() and ax.get_xlabel()
