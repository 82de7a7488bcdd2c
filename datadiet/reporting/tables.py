"""Tables every stage writes the same way: CSV rows and markdown sections, atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from datadiet import atomic_files


def write_csv(path: Path, rows: list[dict]) -> None:
  """One row per dict, columns from the first row's keys."""
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
  writer.writeheader()
  writer.writerows(rows)
  atomic_files.write_text(path, buffer.getvalue())


def write_markdown_section(workdir: Path, name: str, lines: list[str]) -> None:
  """``<workdir>/<name>.md``: an analysis's section, which the report adds to ``summary.md``."""
  atomic_files.write_text(workdir / f'{name}.md', '\n'.join(lines) + '\n')
