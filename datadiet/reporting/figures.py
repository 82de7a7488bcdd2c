"""Figures every report draws the same way: matplotlib, headless, saved atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from datadiet import atomic_files  # noqa: E402


def subplots(*args, **kwargs):
  """``plt.subplots`` on the non-interactive backend (stages run headless, maybe in threads)."""
  return plt.subplots(*args, **kwargs)


def figure(**kwargs):
  """``plt.figure`` on the same backend (for layouts ``subplots`` cannot make)."""
  return plt.figure(**kwargs)


def save_figure(fig, path: Path) -> None:
  """Saves and closes a matplotlib figure."""
  atomic_files.commit(path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches='tight'))
  plt.close(fig)
