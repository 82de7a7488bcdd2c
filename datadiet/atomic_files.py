"""Every result file is written here: whole or not at all, by process 0, the others waiting.

:func:`commit` fills a temporary file next to the target, syncs it and renames it into place,
so a crash leaves the old file or none, never a partial one, and rewriting a file with the same
bytes leaves it untouched (a relaunch changes nothing it finished). In a multi-process run
process 0 writes, every process meeting it at a barrier before and after, so all see the same
workdir at the same point. A full disk or an unwritable place is one clear error naming the
file. :func:`write_text`, :func:`write_json` and :func:`write_npz` are the formats the project
writes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from datadiet import errors, multihost


def commit(path: str | Path, write: Callable[[Path], None]) -> None:
  """Writes ``path`` atomically on process 0 (``write`` fills a temporary file, which is synced
  and renamed over ``path``) between two barriers of every process. A crash leaves the old file
  or none, never a partial one; an existing file with the same bytes is left as it is."""
  path = Path(path)
  # Every process reaches this write before process 0 makes it: a process that decides
  # whether to write by whether the file exists (``if not path.exists(): commit(...)``) then
  # decides before the file can appear, so all take the same branch and meet at the same
  # barriers (one that saw process 0's fresh file would skip this call and its barriers).
  multihost.barrier('commit')
  if multihost.is_writer():
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp{path.suffix}')  # Same suffix: savefig reads it.
    try:
      write(tmp)
      with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())
    except BaseException as e:
      tmp.unlink(missing_ok=True)
      if isinstance(e, OSError):
        errors.raise_if_unwritable(e, path)
      raise
    if path.exists() and _same_bytes(tmp, path):
      tmp.unlink()  # Rewriting a finished result with itself (a relaunch): leave it untouched.
    else:
      os.chmod(tmp, 0o644)
      tmp.replace(path)
  multihost.barrier('commit')


def _same_bytes(a: Path, b: Path) -> bool:
  return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def write_text(path: str | Path, text: str) -> None:
  """:func:`commit` of a text file."""
  commit(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, value: Any) -> None:
  """:func:`commit` of ``value`` as indented, key-sorted JSON."""
  write_text(path, json.dumps(value, indent=2, sort_keys=True))


def write_npz(path: str | Path, **arrays: np.ndarray) -> None:
  """:func:`commit` of an uncompressed ``.npz`` of ``arrays``."""

  def write(tmp: Path) -> None:
    with open(tmp, 'wb') as f:
      np.savez(f, **arrays)

  commit(path, write)
