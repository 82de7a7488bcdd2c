"""The codebase reads top to bottom: no import circles, no upward imports, small modules and a
thin entry point. Imports are read from the source (every ``import`` statement, also those inside
functions), so nothing is imported to check them."""

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_LAUNCH_LINES = 150


def _modules() -> dict[str, Path]:
  modules = {}
  for path in sorted((ROOT / 'datadiet').rglob('*.py')):
    parts = path.relative_to(ROOT).with_suffix('').parts
    modules['.'.join(parts[:-1] if parts[-1] == '__init__' else parts)] = path
  return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
  """``{module: the datadiet modules it imports}``; ``from datadiet.x import y`` counts as an
  import of ``datadiet.x.y`` when that is a module, else of ``datadiet.x``."""
  graph = {name: set() for name in modules}
  for name, path in modules.items():
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ''
        if node.level:  # Relative: from the package, up level - 1.
          anchor = package.split('.')[:len(package.split('.')) - node.level + 1]
          base = '.'.join(anchor + ([base] if base else []))
        targets = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base
                   for alias in node.names]
      else:
        continue
      for target in targets:
        while target not in modules and '.' in target:
          target = target.rpartition('.')[0]
        if target in modules and target != name:
          graph[name].add(target)
  return graph


def _unit(module: str) -> str:
  """A top-level module, or a subpackage as a whole (``datadiet.data.feed`` → ``datadiet.data``)."""
  return '.'.join(module.split('.')[:2])


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
  try:
    graphlib.TopologicalSorter(graph).prepare()
  except graphlib.CycleError as e:
    return e.args[1]
  return None


def test_the_import_graph_reader_finds_a_circle(tmp_path):
  (tmp_path / 'datadiet' / 'sub').mkdir(parents=True)
  for file, text in (('__init__.py', ''), ('a.py', 'from datadiet.sub import b\n'),
                     ('sub/__init__.py', ''),
                     ('sub/b.py', 'def f():\n  from datadiet import a\n')):
    (tmp_path / 'datadiet' / file).write_text(text)
  modules = {'datadiet': tmp_path / 'datadiet/__init__.py',
             'datadiet.a': tmp_path / 'datadiet/a.py',
             'datadiet.sub': tmp_path / 'datadiet/sub/__init__.py',
             'datadiet.sub.b': tmp_path / 'datadiet/sub/b.py'}
  graph = import_graph(modules)
  assert graph['datadiet.a'] == {'datadiet.sub.b'} and graph['datadiet.sub.b'] == {'datadiet.a'}
  assert sorted(set(cycle(graph))) == ['datadiet.a', 'datadiet.sub.b']


def test_no_module_imports_one_that_imports_it_back():
  assert cycle(import_graph(_modules())) is None


def test_no_upward_imports_between_subpackages_and_top_level_modules():
  # Layers: what a subpackage (data, train, stages, ...) or top-level module imports never
  # imports it back, through any chain.
  units: dict[str, set[str]] = {}
  for module, imported in import_graph(_modules()).items():
    units.setdefault(_unit(module), set()).update(
        _unit(m) for m in imported if _unit(m) != _unit(module))
  assert cycle(units) is None


def test_every_module_is_small():
  sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines())
           for path in (ROOT / 'datadiet').rglob('*.py')}
  assert len(sizes) > 50 and {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_the_entry_point_is_thin():
  assert len((ROOT / 'launch.py').read_text().splitlines()) <= MAX_LAUNCH_LINES
