"""Stage 5: results tables, plots and ``summary.md``.

Writes ``results.csv`` / ``results.json`` (one row per subset × seed), ``accuracy.png`` (test
accuracy against fraction pruned, one line per method and score, mean with min–max band over
seeds, the full-data accuracy as a reference), ``scores.png`` (histograms), ``spearman.json``
and ``spearman.png`` (rank correlations between the scores), with ``config.scores.compare_models``
``spearman_architectures.json`` (for each score, rank correlations between the architectures
that computed it), and with label noise ``noise_detection.json`` (AUROC and precision@k of every
score for finding the noisy labels), ``score_diagnostics.json`` / ``.png`` (seed stability,
single seed vs ensemble, agreement between scoring steps) — all tied together in ``summary.md``,
with the sections (``<analysis>.md``) of the training-dynamics analyses the run includes.
Without a ``retrain`` stage (an analysis-only run) the accuracy table and plot are left out.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as sk_metrics

from datadiet import atomic_files, pruning_methods, score_files
from datadiet.dynamics import diagnostics
from datadiet.scores import registry
from datadiet.score_files import ScoreFile
from datadiet.reporting import figure1, plots, summary, tables
from datadiet.stages import retrain as retrain_stage
from datadiet.stages.context import Context
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage
from datadiet.train import optim


def _load_score_files(ctx: Context, model: str | None = None) -> dict[str, ScoreFile]:
  """``{'<score>@<step>': score file aligned to the training ids}`` for one model's scores."""
  return {path.stem: score_files.load_scores(path, ids=ctx.data.train['id'])
          for path in sorted(ctx.scores_dir_for(model).glob('*.npz'))}


def spearman_matrix(scores: dict[str, np.ndarray]) -> dict[str, dict[str, float | None]]:
  """Spearman rank correlation between every pair of named score vectors (``None`` where one
  is constant, e.g. a loss at initialisation on one seed of a tiny set)."""
  return {a: {b: diagnostics.spearman(scores[a], scores[b]) for b in scores} for a in scores}


def score_diagnostics(loaded: dict[str, ScoreFile]) -> dict:
  """Seed stability, single seed vs ensemble, and agreement between scoring steps, for every
  loaded score file (see :mod:`datadiet.dynamics.diagnostics`)."""
  per_file, means = {}, {}
  for stem, score_file in loaded.items():
    per_file[stem] = diagnostics.seed_diagnostics(score_file.per_seed)
    name, _, step = stem.partition('@')
    means.setdefault(name, {})[int(step)] = score_file.score
  steps = {name: diagnostics.between_steps(by_step) for name, by_step in means.items()
           if len(by_step) > 1}
  return {'per_score': per_file, 'between_steps': steps}


def architecture_spearman(ctx: Context, scores: dict[str, np.ndarray]
                          ) -> dict[str, dict[str, dict[str, float]]]:
  """``{'<score>@<step>': Spearman matrix between the models that computed it}``; ``scores``
  are the scoring model's mean scores (already loaded)."""
  by_model = {model: scores if model == ctx.config.model.name else
              {name: f.score for name, f in _load_score_files(ctx, model).items()}
              for model in ctx.score_models}
  # Model-free scores (random, input norm) are identical across models: nothing to compare.
  shared = [name for name in scores
            if not registry.get(name.partition('@')[0]).model_free
            and all(name in model_scores for model_scores in by_model.values())]
  return {name: spearman_matrix({m: by_model[m][name] for m in by_model}) for name in shared}


def noise_detection(scores: dict[str, np.ndarray], is_noisy: np.ndarray) -> dict[str, dict]:
  """AUROC and precision@k (k = number of noisy labels) of each score for finding noise."""
  k = int(is_noisy.sum())
  return {name: dict(auroc=float(sk_metrics.roc_auc_score(is_noisy, values)),
                     precision_at_k=float(is_noisy[np.argsort(-values, kind='stable')[:k]].mean()))
          for name, values in scores.items()}


def run_title(ctx: Context, rows: list[dict]) -> str:
  """The data, the model, the budget (steps and full-set epochs) and the seeds of a run's
  retraining results: what every figure of them names."""
  config = ctx.config
  num_train = len(ctx.data.train['label'])
  steps = rows[0]['steps']
  epochs = steps / optim.steps_per_epoch(num_train, config.optim.batch_size)
  return (f'{ctx.data.name}, {retrain_stage.model_name(ctx)}: {steps} steps of '
          f'{config.optim.batch_size} per run ({epochs:.3g} epochs of the full set), scores '
          f'from {len(config.pretrain.seeds)} seeds, {len(config.retrain.seeds)} retraining '
          'seeds per subset')


def _figure1(ctx: Context, rows: list[dict]) -> list[str]:
  """Draws ``figure1.png`` (the paper's Figure 1 from these results) and returns its section of
  ``summary.md``; nothing when no score was pruned at two fractions or taken at two steps."""
  title = run_title(ctx, rows)
  if not figure1.figure1_plot(rows, ctx.workdir / 'figure1.png', title):
    return []
  return ['## Figure 1', '', title + '.'] + figure1.figure1_tables(rows) + [
      '', '![figure 1](figure1.png)']


def report(ctx: Context) -> None:
  workdir = ctx.workdir
  rows = retrain_stage.load_results(ctx) if 'retrain' in ctx.config.stages else []
  if rows:
    tables.write_csv(workdir / 'results.csv', rows)
    atomic_files.write_json(workdir / 'results.json', rows)
    plots.accuracy_plot(rows, workdir / 'accuracy.png', run_title(ctx, rows))
  figure_section = _figure1(ctx, rows) if rows else []
  loaded = _load_score_files(ctx)
  scores = {name: score_file.score for name, score_file in loaded.items()}
  _, is_noisy = ctx.noise
  plots.score_histograms(scores, is_noisy, workdir / 'scores.png')
  spearman = spearman_matrix(scores)
  atomic_files.write_json(workdir / 'spearman.json', spearman)
  by_architecture = architecture_spearman(ctx, scores) if len(ctx.score_models) > 1 else {}
  if by_architecture:
    atomic_files.write_json(workdir / 'spearman_architectures.json', by_architecture)
  plots.spearman_heatmaps({'between scores': spearman,
             **{f'{name} between models': m for name, m in by_architecture.items()}},
            workdir / 'spearman.png')
  seed_checks = score_diagnostics(loaded)
  atomic_files.write_json(workdir / 'score_diagnostics.json', seed_checks)
  plots.diagnostics_plot(seed_checks['per_score'], workdir / 'score_diagnostics.png',
                         constant=tuple(name for name in ctx.config.scores.names
                                        if registry.get(name).model_free))
  detection = noise_detection(scores, is_noisy) if is_noisy.any() else {}
  if detection:
    atomic_files.write_json(workdir / 'noise_detection.json', detection)
  run = dict(dataset=ctx.config.data.name, score_models=ctx.score_models,
             seeds=ctx.config.pretrain.seeds, score_steps=ctx.config.scores.steps,
             retrain_model=retrain_stage.model_name(ctx), retrain_seeds=ctx.config.retrain.seeds,
             per_seed_methods=[name for name in ctx.config.prune.methods
                               if pruning_methods.get(name).options(ctx.config).get('per_seed')],
             constant_scores=[name for name, values in scores.items() if np.ptp(values) == 0])
  # The analyses that ran wrote their section as <stage>.md.
  sections = ['\n'.join(figure_section)] if figure_section else []
  sections += [(workdir / f'{name}.md').read_text() for name in ctx.config.stages
               if (workdir / f'{name}.md').exists()]
  atomic_files.write_text(workdir / 'summary.md', summary.summary_markdown(
      run, rows, spearman, by_architecture, seed_checks, detection, sections))


# The report reads only other stages' outputs: it runs again whenever one of them ran again.
STAGE = STAGES.register(Stage(
    'report', report, reads=('stages',),
    outputs=('results.json', 'results.csv', 'spearman.json', 'spearman_architectures.json',
             'noise_detection.json', 'summary.md')))
