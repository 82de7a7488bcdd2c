"""Every GraNd path against a plain Python loop of ``jax.grad`` over single examples."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from datadiet import errors, models
from datadiet.models.resnet import ResNet
from datadiet.scores import UnsupportedModelError, grand, grand_generic, grand_linen
from datadiet.scores.losses import softmax_cross_entropy


class ConvZoo(nn.Module):
  """Conv geometries and layer types beyond the ResNets: strides, dilation, padding modes."""

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Conv(8, (3, 3), strides=2, padding='CIRCULAR')(x)
    x = nn.relu(nn.GroupNorm(num_groups=4)(x))
    x = nn.Conv(6, (2, 3), kernel_dilation=(2, 1), padding=((1, 2), (0, 1)))(x)
    x = nn.Conv(4, (3, 3), padding='VALID', use_bias=False)(nn.tanh(x))
    x = nn.RMSNorm()(x)
    x = nn.LayerNorm()(nn.Dense(7)(x))  # Dense over spatial positions: ghost norm with T > 1.
    x = nn.BatchNorm(use_running_average=not train)(x)
    return nn.Dense(3)(x.reshape(x.shape[0], -1))


def _perturb_variables(variables, key):
  """Random non-trivial values for every variable, so BN/LN scales and statistics matter."""
  leaves, treedef = jax.tree.flatten(variables)
  keys = jax.random.split(key, len(leaves))
  new = [leaf + 0.5 * jax.random.uniform(k, leaf.shape, leaf.dtype) for k, leaf in
         zip(keys, leaves)]
  return jax.tree.unflatten(treedef, new)


CASES = {
    'mlp': (models.MLP(num_classes=3, hidden=(8, 6)), (4, 4, 1)),
    'cnn_bn': (models.SmallCNN(num_classes=3, widths=(4, 6)), (8, 8, 2)),
    'residual': (ResNet(num_classes=3, stage_sizes=(1, 1), widths=(4, 6)), (8, 8, 3)),
    'conv_zoo': (ConvZoo(), (9, 9, 2)),
}


def _setup(name, batch=7, dtype=jnp.float32):
  model, shape = CASES[name]
  key_init, key_vars, key_x, key_y = jax.random.split(jax.random.key(0), 4)
  x = jax.random.normal(key_x, (batch,) + shape, jnp.float32)
  y = jax.random.randint(key_y, (batch,), 0, 3, jnp.int32)
  variables = _perturb_variables(model.init(key_init, x[:1], train=False), key_vars)
  # The same float32 draws cast up, so float64 runs check the very same function.
  return model, jax.tree.map(lambda v: v.astype(dtype), variables), x.astype(dtype), y


def _looped_reference(model, variables, x, y):
  """One ``jax.grad`` per example, in Python: the definition of GraNd."""
  key = (id(model), str(x.dtype), x.shape, np.asarray(x).tobytes()[:64])
  if key not in _REFERENCE_CACHE:
    _REFERENCE_CACHE[key] = _looped(model, variables, x, y)
  return _REFERENCE_CACHE[key]


_REFERENCE_CACHE = {}


def _looped(model, variables, x, y):
  @jax.jit
  @jax.grad
  def example_grad(params, x_i, y_i):
    logits = model.apply({**variables, 'params': params}, x_i[None], train=False)
    return softmax_cross_entropy(logits, y_i[None])[0]

  norms = []
  for i in range(x.shape[0]):
    grads = example_grad(variables['params'], x[i], y[i])
    norms.append(np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2)
                             for g in jax.tree.leaves(grads))))
  return np.array(norms)


PATHS = {
    'fast_auto': dict(method='fast', norm_method='auto'),
    'fast_ghost': dict(method='fast', norm_method='ghost'),
    'fast_materialize': dict(method='fast', norm_method='materialize'),
    'generic': dict(method='generic', microbatch_size=3),
}


@pytest.mark.parametrize('path,use_jit', [(path, True) for path in PATHS] +
                         [('fast_auto', False), ('generic', False)])
@pytest.mark.parametrize('case', CASES)
def test_matches_looped_grad_float32(case, path, use_jit):
  model, variables, x, y = _setup(case)
  fn = functools.partial(grand, model, apply_kwargs={'train': False}, **PATHS[path])
  if use_jit:
    fn = jax.jit(fn)
  got = np.asarray(fn(variables, x, y))
  want = _looped_reference(model, variables, x, y)
  np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('case', CASES)
def test_matches_looped_grad_float64(case, path):
  with jax.enable_x64(True):
    model, variables, x, y = _setup(case, dtype=jnp.float64)
    fn = jax.jit(functools.partial(grand, model, apply_kwargs={'train': False}, **PATHS[path]))
    got = fn(variables, x, y)
    want = _looped_reference(model, variables, x, y)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10)


def test_auto_strategy_picks_per_layer():
  model, variables, x, y = _setup('residual')
  _, strategies = grand_linen(model, variables, x, y, apply_kwargs={'train': False},
                              return_strategies=True)
  assert strategies['stem'] == 'materialize'  # 64 positions, 27 × 4 weights: T² > K·C.
  assert strategies['head'] == 'ghost'  # One position: ‖x‖·‖g‖.


@pytest.mark.parametrize('path', PATHS)
def test_padding_is_masked_and_inert(path):
  model, variables, x, y = _setup('cnn_bn', batch=6)
  mask = jnp.array([True, True, False, True, False, True])
  fn = jax.jit(functools.partial(grand, model, apply_kwargs={'train': False}, **PATHS[path]))
  got = np.asarray(fn(variables, x, y, mask))
  # Garbage in the padded rows must not change the real rows.
  x_garbage = x.at[~mask].set(1e3)
  got_garbage = np.asarray(fn(variables, x_garbage, y, mask))
  assert np.all(got[~np.asarray(mask)] == 0)
  np.testing.assert_allclose(got_garbage, got, rtol=1e-6)
  np.testing.assert_allclose(got[np.asarray(mask)],
                             _looped_reference(model, variables, x[mask], y[mask]), rtol=1e-5)


@pytest.mark.parametrize('microbatch_size', [1, 4, 7, 100])
def test_generic_microbatch_need_not_divide_batch(microbatch_size):
  weights = jax.random.normal(jax.random.key(1), (5, 3))
  x = jax.random.normal(jax.random.key(2), (7, 5))
  y = jnp.arange(7) % 3

  def example_loss(params, xi, yi):
    return softmax_cross_entropy((xi @ params['w'])[None], yi[None])[0]

  got = grand_generic(example_loss, {'w': weights}, x, y, microbatch_size=microbatch_size)
  # Closed form for a linear softmax model: ∇_W = x (p − e_y)ᵀ, so ‖∇‖ = ‖x‖ ‖p − e_y‖.
  err = jax.nn.softmax(x @ weights) - jax.nn.one_hot(y, 3)
  want = np.linalg.norm(x, axis=1) * np.linalg.norm(err, axis=1)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


class SharedDense(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    dense = nn.Dense(4)
    return dense(nn.relu(dense(x)))


class WithEmbed(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    scale = self.param('scale', nn.initializers.ones, (x.shape[-1],))
    return nn.Dense(3)(x * scale)


class GroupedConv(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    x = nn.Conv(4, (3, 3), feature_group_count=2)(x)
    return nn.Dense(3)(x.reshape(x.shape[0], -1))


@pytest.mark.parametrize('model,shape,reason', [
    (SharedDense(), (4,), 'more than once'),
    (WithEmbed(), (4,), 'scale'),
    (GroupedConv(), (5, 5, 2), 'feature_group_count=2'),
])
def test_unsupported_models_fall_back_exactly(model, shape, reason):
  x = jax.random.normal(jax.random.key(3), (5,) + shape)
  y = jnp.arange(5) % 3
  variables = model.init(jax.random.key(4), x)
  with pytest.raises(UnsupportedModelError, match=reason):
    grand(model, variables, x, y, method='fast')
  got = grand(model, variables, x, y, method='auto')
  np.testing.assert_allclose(np.asarray(got), _looped_reference(model, variables, x, y),
                             rtol=1e-5)


def test_batchnorm_in_training_mode_is_refused():
  model, variables, x, y = _setup('cnn_bn')
  with pytest.raises(ValueError, match='training mode'):
    grand(model, variables, x, y, method='fast', apply_kwargs={'train': True})


def test_unknown_method_lists_choices():
  model, variables, x, y = _setup('mlp')
  with pytest.raises(ValueError, match='valid: auto, fast, generic'):
    grand(model, variables, x, y, method='jacobian')


# bfloat16 models: the same weights and inputs as the float32 cases, computing in bfloat16.
BF16_CASES = {
    'cnn_bn': models.SmallCNN(num_classes=3, widths=(4, 6), dtype=jnp.bfloat16),
    'residual': ResNet(num_classes=3, stage_sizes=(1, 1), widths=(4, 6), dtype=jnp.bfloat16),
}


@pytest.mark.parametrize('case', BF16_CASES)
def test_bfloat16_model_agrees_with_float32_scores_of_the_same_weights(case):
  """Stated tolerance: each GraNd within 2% of its float32 value plus 0.5% of the batch's
  largest (small norms carry bfloat16's absolute error), rank correlation ≥ 0.99; EL2N within
  0.01 (measured on ResNet-20 at 32×32 with random inputs: ≤ 0.7% and ≤ 0.0012)."""
  model32, variables, x, y = _setup(case, batch=16)
  model16 = BF16_CASES[case]
  exact = _looped_reference(model32, variables, x, y)
  fn = jax.jit(functools.partial(grand, model16, apply_kwargs={'train': False}, method='fast'))
  got = np.asarray(fn(variables, x, y))
  assert got.dtype == np.float32
  np.testing.assert_allclose(got, exact, rtol=0.02, atol=0.005 * exact.max())
  assert scipy.stats.spearmanr(got, exact)[0] >= 0.99
  assert not np.allclose(got, exact, rtol=1e-6)  # It really ran in bfloat16.
  from datadiet.scores import el2n
  np.testing.assert_allclose(el2n(model16.apply(variables, x), y),
                             el2n(model32.apply(variables, x), y), atol=0.01)


def test_bfloat16_products_accumulate_in_float32():
  model, _, x, y = _setup('residual')
  variables = model.init(jax.random.key(0), x[:1])
  jaxpr = jax.make_jaxpr(functools.partial(
      grand_linen, BF16_CASES['residual'], apply_kwargs={'train': False}))(variables, x, y)

  def contractions(jaxpr):  # Every dot_general, inside scans and custom rules too.
    for eqn in jaxpr.eqns:
      if eqn.primitive.name == 'dot_general':
        yield eqn
      for param in eqn.params.values():
        for sub in param if isinstance(param, (tuple, list)) else [param]:
          if isinstance(sub, (jax.extend.core.Jaxpr, jax.extend.core.ClosedJaxpr)):
            yield from contractions(getattr(sub, 'jaxpr', sub))

  # The per-example norms' contractions take bfloat16 operands and return float32.
  norms = [e for e in contractions(jaxpr.jaxpr) if e.outvars[0].aval.dtype == jnp.float32]
  assert len(norms) >= 4
  assert all(v.aval.dtype == jnp.bfloat16 for e in norms for v in e.invars)


@pytest.mark.parametrize('path', ['fast', 'generic'])
def test_mismatched_labels_and_mask_are_refused(path):
  model, variables, x, y = _setup('mlp')
  call = functools.partial(grand, model, variables, method=path)
  with pytest.raises(errors.InputError, match=rf'labels must have (a leading axis of|shape \()'
                                              rf'{len(y)}'):
    call(x, y[:-1])
  with pytest.raises(errors.InputError, match=rf'mask must have shape \({len(y)},\)'):
    call(x, y, np.ones(len(y) + 1, bool))


@pytest.mark.parametrize('path', ['fast', 'generic'])
def test_out_of_range_label_is_refused_or_nan_never_a_plausible_norm(path):
  model, variables, x, y = _setup('mlp')
  y = np.array(y)
  y[1] = 99  # optax alone would quietly read a real class's logit for it.
  call = functools.partial(grand, model, method=path)
  if path == 'fast':  # The loss sees concrete labels; the generic path's lax.map traces them.
    with pytest.raises(errors.InputError, match=r'1 labels outside \[0, 3\) \(the first, 99'):
      call(variables, x, y)
  else:
    assert np.isnan(np.asarray(call(variables, x, y))[1])
  norms = np.asarray(jax.jit(call)(variables, x, y))
  assert np.isnan(norms[1])
  np.testing.assert_allclose(np.delete(norms, 1),
                             np.delete(_looped(model, variables, x, np.where(y == 99, 0, y)), 1),
                             rtol=1e-5)


@pytest.mark.parametrize('path', ['fast', 'generic'])
def test_padding_may_hold_a_placeholder_label(path):
  model, variables, x, y = _setup('mlp')
  mask = np.arange(len(y)) < 5
  placeholder = np.where(mask, y, -1)
  got = np.asarray(grand(model, variables, x, placeholder, mask, method=path))
  np.testing.assert_array_equal(got, np.asarray(grand(model, variables, x, y, mask, method=path)))
  # Without the mask the placeholder is a label like any other: refused, or NaN (generic path).
  if path == 'fast':
    with pytest.raises(errors.InputError, match='labels outside'):
      grand(model, variables, x, placeholder, method=path)
  else:
    assert np.isnan(np.asarray(grand(model, variables, x, placeholder, method=path))[~mask]).all()


def test_one_hot_labels_for_the_default_loss_are_one_clear_error():
  model, variables, x, y = _setup('mlp')
  with pytest.raises(errors.InputError, match=r'grand: labels must have shape \(7,\).*pass class '
                                              'indices, not one-hot'):
    grand(model, variables, x, jax.nn.one_hot(y, 3))
