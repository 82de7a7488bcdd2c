"""Ghost or materialised per layer: forced, by FLOPs, or by measured time; never a wrong norm."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datadiet import errors
from datadiet.models.resnet import ResNet
from datadiet.scores import grand_linen, layer_norms, norm_tuning


def _dense(method):
  return functools.partial(layer_norms.dense_sq_norms, method=method)


def test_measure_keeps_the_faster_form_and_times_each_geometry_once(monkeypatch):
  timed = []
  fake_seconds = iter([2.0, 1.0, 1.0, 3.0])  # (ghost, materialize) for two geometries.

  def fake(program, args):
    timed.append(args[0].shape)
    return next(fake_seconds)

  monkeypatch.setattr(norm_tuning, '_seconds', fake)
  monkeypatch.setattr(norm_tuning, '_compile', lambda fn, args: (fn, 100))  # Equal memory.
  monkeypatch.setattr(norm_tuning, '_measured', {})
  monkeypatch.setattr(norm_tuning, '_timings', {})
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)  # noqa: E731
  assert norm_tuning.choose('measure', _dense, shape(8, 5, 3), shape(8, 5, 4), 3,
                            key='d') == 'materialize'
  assert norm_tuning.choose('measure', _dense, shape(8, 5, 3), shape(8, 5, 4), 3,
                            key='d') == 'materialize'  # Cached: not timed again.
  assert norm_tuning.choose('measure', _dense, shape(8, 9, 3), shape(8, 9, 4), 3,
                            key='d') == 'ghost'
  assert timed == [(8, 5, 3), (8, 5, 3), (8, 9, 3), (8, 9, 3)]


def _measure_planned(monkeypatch, costs: dict, key: str) -> tuple[str, list]:
  """``measured_form`` over forms with the given (seconds, planned bytes), on two float32
  (2, 3) arguments (48 bytes): the chosen form and the forms that were run."""
  ran = []
  monkeypatch.setattr(norm_tuning, '_compile', lambda fn, args: (fn.form, costs[fn.form][1]))
  monkeypatch.setattr(norm_tuning, '_seconds',
                      lambda form, args: ran.append(form) or costs[form][0])
  monkeypatch.setattr(norm_tuning, '_measured', {})
  monkeypatch.setattr(norm_tuning, '_timings', {})
  shape = jax.ShapeDtypeStruct((2, 3), jnp.float32)

  def make(form):
    fn = lambda x, g: x  # noqa: E731
    fn.form = form
    return fn

  return norm_tuning.measured_form(make, shape, shape, list(costs), key=key), ran


def test_a_form_planned_over_twice_the_memory_is_never_run(monkeypatch):
  costs = {'ghost': (3.0, 100), 'materialize': (2.0, 150), 'ghost/unrolled': (1.0, 380)}
  chosen, ran = _measure_planned(monkeypatch, costs, key='c')
  assert chosen == 'materialize'
  assert ran == ['ghost', 'materialize']  # The 3.8x form was compiled, planned, not run.


def test_a_few_times_the_layers_own_arrays_is_affordable_whatever_the_leanest(monkeypatch):
  # XLA on a CPU planned a fused 1×1 ghost norm with no temporaries: 2× of ~0 excluded the
  # materialised form's few megabytes, and GraNd ran a 10× slower loop.
  arguments = 2 * 2 * 3 * 4  # Two float32 (2, 3) arrays: 48 bytes.
  costs = {'ghost': (3.0, 8), 'materialize': (1.0, 3 * arguments), 'ghost/unrolled': (0.5, 400)}
  chosen, ran = _measure_planned(monkeypatch, costs, key='1x1')
  assert chosen == 'materialize'
  assert ran == ['ghost', 'materialize']  # 400 bytes > 4 × 48: planned, not run.
  [entry] = norm_tuning.measurements()
  assert entry['chosen'] == 'materialize' and entry['layer'] == '1x1'
  assert entry['seconds'] == {'ghost': 3.0, 'materialize': 1.0, 'ghost/unrolled': None}
  assert entry['planned_bytes'] == {form: cost[1] for form, cost in costs.items()}


def test_a_form_that_cannot_compile_is_left_out(monkeypatch):
  # On an H100, ResNet50's ImageNet stem at batch 256: the ghost form's Gram matrices (150 GiB)
  # failed in XLA's autotuner, while compiling.
  def make(form):
    def sq_norms(inputs, output_grads):
      if form == 'ghost':
        raise RuntimeError('RESOURCE_EXHAUSTED: Out of memory while trying to allocate 150GiB')
      return (inputs * inputs).sum(-1) * (output_grads * output_grads).sum(-1)
    return sq_norms

  ran = []
  monkeypatch.setattr(norm_tuning, '_seconds',
                      lambda program, args: ran.append(program) or 1.0 + len(ran))
  monkeypatch.setattr(norm_tuning, '_measured', {})
  monkeypatch.setattr(norm_tuning, '_timings', {})
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)  # noqa: E731
  assert norm_tuning.measured_form(make, shape(2, 3), shape(2, 3), norm_tuning.CONV_FORMS,
                                   key='stem') == 'materialize'
  assert len(ran) == 3 and None not in ran  # The three that compiled, each run for real.


def test_a_form_that_fails_for_another_reason_is_a_bug_and_raises(monkeypatch):
  # Only running out of memory leaves a form out; anything else would hide a bug behind
  # "lower the batch size".
  def make(form):
    def sq_norms(inputs, output_grads):
      if form == 'ghost':
        raise TypeError('a shape bug')
      return (inputs * output_grads).sum(-1)
    return sq_norms

  monkeypatch.setattr(norm_tuning, '_measured', {})
  monkeypatch.setattr(norm_tuning, '_timings', {})
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)  # noqa: E731
  with pytest.raises(TypeError, match='a shape bug'):
    norm_tuning.measured_form(make, shape(2, 3), shape(2, 3), norm_tuning.DENSE_FORMS, key='b')


def test_forms_are_timed_on_device_arrays_even_inside_a_jitted_trace(monkeypatch):
  # NumPy arguments were copied to the GPU on every timed call: on an H100 that copy outweighed
  # the forms' differences at ResNet50's 224² layers, and the choice was noise.
  seen = []
  real_seconds = norm_tuning._seconds  # pylint: disable=protected-access
  monkeypatch.setattr(norm_tuning, '_seconds',
                      lambda program, args: seen.append(args) or real_seconds(program, args))
  monkeypatch.setattr(norm_tuning, '_measured', {})
  monkeypatch.setattr(norm_tuning, '_timings', {})
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)  # noqa: E731

  def traced(x):
    norm_tuning.measured_form(_dense, shape(4, 6, 3), shape(4, 6, 2), norm_tuning.DENSE_FORMS,
                              key='in-trace')
    return x

  jax.jit(traced)(jnp.zeros(()))
  assert len(seen) == 2
  for args in seen:
    assert all(isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) for a in args)
    assert [a.shape for a in args] == [(4, 6, 3), (4, 6, 2)]


def test_a_ghost_gram_larger_than_the_device_is_not_compiled(monkeypatch):
  compiled = []
  real_compile = norm_tuning._compile  # pylint: disable=protected-access

  def make(form):
    fn = functools.partial(layer_norms.conv_sq_norms, kernel_size=(1, 1), strides=(1, 1),
                           padding=[(0, 0), (0, 0)], kernel_dilation=(1, 1),
                           method=norm_tuning.parse_form(form)[0])
    fn.form = form
    return fn

  monkeypatch.setattr(norm_tuning, '_compile',
                      lambda fn, args: compiled.append(fn.form) or real_compile(fn, args))
  monkeypatch.setattr(norm_tuning, '_device_memory_bytes', lambda: 9_999)  # Grams: 10,000 bytes.
  monkeypatch.setattr(norm_tuning, '_measured', {})
  monkeypatch.setattr(norm_tuning, '_timings', {})
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)  # noqa: E731
  x, g = shape(2, 5, 5, 3), shape(2, 5, 5, 4)  # Two Grams of 2 examples × 25² × 4 bytes.
  assert norm_tuning.measured_form(make, x, g, norm_tuning.CONV_FORMS,
                                   key='big') in ('materialize', 'materialize/unrolled')
  assert compiled == ['materialize', 'materialize/unrolled']
  monkeypatch.setattr(norm_tuning, '_device_memory_bytes', lambda: 10_000)  # Fits: compiled.
  norm_tuning.measured_form(make, x, g, norm_tuning.CONV_FORMS, key='fits')
  assert compiled[2:] == list(norm_tuning.CONV_FORMS)


def test_no_form_fitting_is_one_line_naming_the_fix(monkeypatch):
  monkeypatch.setattr(norm_tuning, '_compile', lambda fn, args: (None, float('inf')))
  monkeypatch.setattr(norm_tuning, '_measured', {})
  monkeypatch.setattr(norm_tuning, '_timings', {})
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)  # noqa: E731
  with pytest.raises(errors.OutOfMemoryError, match='lower config.runtime.score_batch_size'):
    norm_tuning.measured_form(_dense, shape(2, 3), shape(2, 3), norm_tuning.DENSE_FORMS, key='x')


def test_measured_timing_runs_every_form_for_real(monkeypatch):
  monkeypatch.setattr(norm_tuning, '_measured', {})
  monkeypatch.setattr(norm_tuning, '_timings', {})
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)  # noqa: E731
  chosen = norm_tuning.measured_form(_dense, shape(4, 6, 3), shape(4, 6, 2),
                                     norm_tuning.DENSE_FORMS, key='real')
  assert chosen in ('ghost', 'materialize')
  assert list(norm_tuning._measured.values()) == [chosen]  # pylint: disable=protected-access


def test_auto_is_the_flops_rule_on_cpu_and_forced_forms_are_kept():
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)  # noqa: E731
  x, g = shape(8, 64, 27), shape(8, 64, 4)  # 64 positions, 27 × 4 weights: materialise.
  assert norm_tuning.choose('auto', _dense, x, g, 27, key='k') == 'materialize'
  assert norm_tuning.choose('flops', _dense, x, g, 27, key='k') == 'materialize'
  assert norm_tuning.choose('ghost', _dense, x, g, 27, key='k') == 'ghost'
  with pytest.raises(ValueError, match='valid: auto, ghost, materialize, measure, flops'):
    norm_tuning.choose('fastest', _dense, x, g, 27, key='k')


def test_measured_choices_give_exact_grand():
  model = ResNet(num_classes=3, stage_sizes=(1, 1), widths=(4, 6))
  x = jax.random.normal(jax.random.key(0), (5, 8, 8, 3))
  y = jnp.arange(5) % 3
  variables = model.init(jax.random.key(1), x[:1])
  kwargs = dict(apply_kwargs={'train': False})
  # Under jit, as scoring calls it: the timing must run outside the caller's trace.
  measured = jax.jit(functools.partial(grand_linen, model, norm_method='measure', **kwargs))(
      variables, x, y)
  _, strategies = grand_linen(model, variables, x, y, norm_method='measure',
                              return_strategies=True, **kwargs)
  flops = grand_linen(model, variables, x, y, norm_method='flops', **kwargs)
  assert set(strategies.values()) <= set(norm_tuning.CONV_FORMS) and 'stem' in strategies
  np.testing.assert_allclose(measured, flops, rtol=1e-5)


@pytest.mark.parametrize('form', norm_tuning.CONV_FORMS)
def test_every_conv_form_is_exact(form):
  x = jax.random.normal(jax.random.key(0), (3, 7, 7, 2))
  g = jax.random.normal(jax.random.key(1), (3, 4, 4, 5))
  method, unrolled = norm_tuning.parse_form(form)
  got = layer_norms.conv_sq_norms(x, g, (3, 3), (2, 2), [(1, 1), (1, 1)], (1, 1),
                                  method=method, unroll_offsets=unrolled)


  def kernel_grad(x_i, g_i):  # d/dW of <conv(x_i, W), g_i>: example i's kernel gradient.
    def inner(kernel):
      y = jax.lax.conv_general_dilated(x_i[None], kernel, (2, 2), [(1, 1), (1, 1)],
                                       dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
      return jnp.sum(y[0] * g_i)
    return jax.grad(inner)(jnp.zeros((3, 3, 2, 5)))

  want = [float(jnp.sum(kernel_grad(x[i], g[i]) ** 2)) for i in range(3)]
  np.testing.assert_allclose(got, want, rtol=1e-5)
