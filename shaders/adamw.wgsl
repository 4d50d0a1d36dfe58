// The optimizer: AdamW as torch.optim.AdamW updates one parameter tensor (amsgrad=False,
// maximize=False; see torch/optim/adamw.py, _single_tensor_adamw), one invocation per element:
//   g = grad * grad_scale                       (global-norm clipping, as clip_grad_norm_ scales grads)
//   param = param * (1 - lr * weight_decay)     (decoupled weight decay)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   param = param - (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
// The step-dependent factors are computed once per step on the CPU in float64 (as torch does in
// Python floats) and arrive as f32 uniforms, like 1 - beta, which in f32 arithmetic would lose
// digits (1 - f32(0.999) is 1.3e-5 off in relative terms).
//
// Also the sum of squares of a gradient, for the global gradient norm (entry points sum_squares
// and sum_squares_finish): a fixed two-level reduction, deterministic without atomics.
//
// Glossary: n elements of one parameter tensor (its gradient and moments have the same shape),
// P partial sums (workgroups of the first reduction level), S slots of the norm buffer.

override WG: u32 = 256;

// ----------------------------------------------------------------------------------- step

struct StepParams {
  n: u32,
  decay: f32,            // 1 - lr * weight_decay: exactly 1 when weight_decay = 0
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  step_size: f32,        // lr / (1 - beta1^step)
  sqrt_bias2: f32,       // sqrt(1 - beta2^step)
  eps: f32,
  grad_scale: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;  // [n], updated in place
@group(0) @binding(1) var<storage, read_write> m: array<f32>;      // [n], first moment (exp_avg)
@group(0) @binding(2) var<storage, read_write> v: array<f32>;      // [n], second moment (exp_avg_sq)
@group(0) @binding(3) var<storage, read> grad: array<f32>;         // [n]
@group(0) @binding(4) var<uniform> sp: StepParams;

@compute @workgroup_size(WG)
fn step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_invocation_id(wid, nwg, lid, WG);
  // Folding and rounding up to whole workgroups add invocations past the end.
  if (i >= sp.n) {
    return;
  }
  let g = grad[i] * sp.grad_scale;
  let mi = sp.beta1 * m[i] + sp.one_minus_beta1 * g;
  let vi = sp.beta2 * v[i] + sp.one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  // eps is added after the bias correction of sqrt(v), as in torch (not inside the sqrt).
  let denom = sqrt(vi) / sp.sqrt_bias2 + sp.eps;
  param[i] = param[i] * sp.decay - sp.step_size * (mi / denom);
}

// ---------------------------------------------------------------------------- sum of squares
// Level 1 (sum_squares): P workgroups; workgroup w sums x[i]^2 for i = w*WG + lid + k*P*WG, then
// reduces its WG sums in a fixed tree (workgroup_sum, reduce.wgsl) into partials[w]. Level 2 (sum_squares_finish): one
// workgroup reduces the P partials the same way into out[slot] (or adds to it, ACCUMULATE). P
// depends on n only, so the summation order, and the result, are the same on every run.

override ACCUMULATE: bool = false;

struct SquaresParams {
  n: u32,
  P: u32,
}

@group(0) @binding(0) var<storage, read_write> partials: array<f32>;  // [P]
@group(0) @binding(1) var<storage, read> sq_x: array<f32>;            // [n]
@group(0) @binding(2) var<uniform> qp: SquaresParams;

@compute @workgroup_size(WG)
fn sum_squares(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x;  // P <= 256 workgroups: never folded
  var sum = 0.0;
  for (var i = w * WG + lid; i < qp.n; i += qp.P * WG) {
    let value = sq_x[i];
    sum += value * value;
  }
  let total = workgroup_sum(lid, sum);
  if (lid == 0u) {
    partials[w] = total;
  }
}

struct FinishParams {
  P: u32,
  slot: u32,
}

@group(0) @binding(0) var<storage, read_write> squares: array<f32>;  // [S], one slot per tensor (or shared)
@group(0) @binding(1) var<storage, read> fin_partials: array<f32>;   // [P], from sum_squares
@group(0) @binding(2) var<uniform> fp: FinishParams;

@compute @workgroup_size(WG)
fn sum_squares_finish(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var k = lid; k < fp.P; k += WG) {
    sum += fin_partials[k];
  }
  let total = workgroup_sum(lid, sum);
  if (lid == 0u) {
    if (ACCUMULATE) {
      squares[fp.slot] += total;
    } else {
      squares[fp.slot] = total;
    }
  }
}
