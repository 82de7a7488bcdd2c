"""Result files every stage writes the same way: CSV tables and PNG figures, atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from datadiet import atomic_files  # noqa: E402


def write_csv(path: Path, rows: list[dict]) -> None:
  """One row per dict, columns from the first row's keys."""
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
  writer.writeheader()
  writer.writerows(rows)
  atomic_files.write_text(path, buffer.getvalue())


def subplots(*args, **kwargs):
  """``plt.subplots`` on the non-interactive backend (stages run headless, maybe in threads)."""
  return plt.subplots(*args, **kwargs)


def save_figure(fig, path: Path) -> None:
  """Saves and closes a matplotlib figure."""
  atomic_files.commit(path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches='tight'))
  plt.close(fig)


def write_markdown_section(workdir: Path, name: str, lines: list[str]) -> None:
  """``<workdir>/<name>.md``: an analysis's section, which the report adds to ``summary.md``."""
  atomic_files.write_text(workdir / f'{name}.md', '\n'.join(lines) + '\n')
