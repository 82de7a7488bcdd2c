"""Ctrl-C stops a run even when it lands where Python ignores exceptions (a gc callback)."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import gc, os, signal, sys, threading, time
from datadiet import interruption
if sys.argv[1] == 'installed':
  interruption.install()
def slow_callback(phase, info):  # As JAX's: Python reports its exceptions and goes on.
  if phase == 'start':
    time.sleep(0.5)
gc.callbacks.append(slow_callback)
threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
  gc.collect()  # The interrupt arrives inside the callback.
  deadline = time.monotonic() + 4
  while time.monotonic() < deadline:
    time.sleep(0.01)
  print('not stopped')
except KeyboardInterrupt:
  interruption.stopping()
  print('stopped')
"""


@pytest.mark.parametrize('handler, printed', [('installed', 'stopped'),
                                              ('python_s_own', 'not stopped')])
def test_an_interrupt_lost_in_a_callback_is_raised_again(handler, printed):
  result = subprocess.run(  # SIGINT handled, as from a terminal (xdist workers ignore it).
      [sys.executable, '-c', _SCRIPT, handler], cwd=ROOT, capture_output=True, text=True,
      timeout=60, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  assert result.stdout.strip() == printed
  # The lost interrupt's "Exception ignored" report is printed only without the handler.
  assert ('KeyboardInterrupt' in result.stderr) == (handler == 'python_s_own')
