"""Ctrl-C that always stops a run.

Python raises ``KeyboardInterrupt`` wherever the main thread is when SIGINT arrives; inside a
callback whose exceptions Python reports and ignores (JAX's garbage-collection callback, which
runs often early in training) the interrupt is lost and the run goes on. :func:`install`'s
handler raises it and then, until the run has begun to stop (:func:`stopping`), raises it again
every second: one Ctrl-C is enough. The lost one's "Exception ignored" report is not printed
(the interrupt it reports is raised again).
"""

from __future__ import annotations

import os
import signal
import sys
import threading

_stopping = threading.Event()


def _raise_again() -> None:
  if not _stopping.is_set():
    os.kill(os.getpid(), signal.SIGINT)


def _interrupt(signum, frame) -> None:
  del signum, frame
  if not _stopping.is_set():
    retry = threading.Timer(1.0, _raise_again)
    retry.daemon = True  # Never keeps a finished process alive.
    retry.start()
  raise KeyboardInterrupt


def install() -> None:
  """Handles SIGINT as above, unless the process was started with it ignored (a background
  job: its parent's choice)."""
  if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
    return
  signal.signal(signal.SIGINT, _interrupt)
  report = sys.unraisablehook

  def unraisable(args):
    if not isinstance(args.exc_value, KeyboardInterrupt):
      report(args)
  sys.unraisablehook = unraisable


def stopping() -> None:
  """Called where the run handles the interrupt: no more re-raising, and a further Ctrl-C is
  ignored while it ends (its one line is not cut short by a traceback)."""
  _stopping.set()
  signal.signal(signal.SIGINT, signal.SIG_IGN)
