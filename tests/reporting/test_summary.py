"""summary.md from plain rows: the accuracy table, correlation tables and the analyses' sections."""

from datadiet.reporting import plots, summary

RUN = dict(dataset='digits', score_models=['mlp'], seeds=(0, 1), score_steps=(0, 60),
           retrain_model='mlp', retrain_seeds=(100, 101))


def _row(subset, fraction, accuracy, seed):
  return dict(subset=subset, fraction_pruned=fraction, size=10, steps=300,
              test_accuracy=accuracy, seed=seed)


def test_accuracy_table_full_run_first_with_mean_and_std():
  rows = [_row('random-p0.5', 0.5, 0.6, 100), _row('random-p0.5', 0.5, 0.8, 101),
          _row(plots.FULL, 0.0, 0.9, 100), _row(plots.FULL, 0.0, 0.9, 101)]
  seed_checks = {'per_score': {}, 'between_steps': {}}
  text = summary.summary_markdown(RUN, rows, {}, {}, seed_checks, {}, ['## Offset sweep\n'])
  lines = text.splitlines()
  assert lines[0] == '# Data-diet run: digits'
  assert 'Scores from mlp seeds [0, 1] at steps [0, 60]. Retrained mlp with seeds [100, 101].' \
      in lines
  table = [line for line in lines if line.startswith('| full') or line.startswith('| random')]
  assert table == ['| full | 0 | 10 | 300 | 0.9000 ± 0.0000 |',
                   '| random-p0.5 | 0.5 | 10 | 300 | 0.7000 ± 0.1000 |']
  assert '## Offset sweep' in lines  # The analyses' sections are included as given.


def test_markdown_matrix_marks_undefined_correlations():
  matrix = {'el2n@0': {'el2n@0': 1.0, 'loss@0': None}, 'loss@0': {'el2n@0': None, 'loss@0': 1.0}}
  assert summary.markdown_matrix(matrix) == [
      '| | el2n@0 | loss@0 |', '|---|---|---|',
      '| el2n@0 | +1.00 | n/a |', '| loss@0 | n/a | +1.00 |']


def test_mean_or_none():
  assert plots.mean_or_none([None, 1.0, 3.0]) == 2.0
  assert plots.mean_or_none([None]) is None


def test_constant_scores_are_named():
  seed_checks = {'per_score': {}, 'between_steps': {}}
  run = dict(RUN, constant_scores=['el2n_sum@0'])
  text = summary.summary_markdown(run, [], {}, {}, seed_checks, {}, [])
  assert ('Constant over the training set, so they rank nothing (a subset by them follows id '
          'order): el2n_sum@0.') in text
