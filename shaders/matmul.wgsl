// Matrix multiplication: C[M, N] (+)= op(A) · op(B), with op(X) = X or X^T.
// Every projection of the model (q/k/v/o, gate/up/down, lm_head) and, transposed, their gradients.
//
// Glossary: M rows of C (B*T for a projection), N columns of C (output features),
// K the contracted dimension (input features). Row-major throughout:
//   A is [M, K], or [K, M] when TRANS_A;  B is [K, N], or [N, K] when TRANS_B (nn.Linear's weight);
//   C is [M, N].
//
// `forward` is tiled and register-blocked. A workgroup of WG_X x WG_Y invocations owns a TM x TN tile
// of C (TM = 16*WG_Y rows, TN = 8*WG_X columns) and walks K in slices of TK: it copies the slice of
// op(A) (TM x TK) and of op(B) (TK x TN) into workgroup memory, then every invocation multiplies out
// its own 16 x 8 block of C, held in registers as eight 4 x 4 blocks (mat4x4; block[r], which WGSL
// calls column r, holds row r of the block: four consecutive columns of C). Per step of k an invocation reads 4 vec4 of A and 2 vec4 of B from workgroup
// memory and does 128 multiply-adds with them.
//
// Half-precision weights (B_F16): B may hold binary16 values packed two per u32 word, pairs
// consecutive in B's storage order (for nn.Linear's [N, K] weight: pairs along K, so K must be even;
// the TS op checks). They are unpacked with `unpack2x16float` (core WGSL, no `shader-f16` feature
// needed) as they are loaded, and everything after the load, tiles and accumulators, stays f32.
// B is therefore bound as raw 32-bit words for both kernels, and `load_b` reads them as f32 bits or
// as f16 pairs as the B_F16 override says: one binding, one tile loop, no copy. (Two entry points
// with differently typed B variables at the same @binding could not share `forward`'s loop: WGSL
// has no function parameters of function type, and a variable referenced anywhere in a function
// the entry point calls belongs to that entry point's interface, whatever the branch.)
//
// `matvec` is for few rows (M <= 4, decoding a token) against nn.Linear's weight (TRANS_B, not
// TRANS_A): one invocation per column n of C, walking row n of B once, all M rows of C at once. The
// tiled kernel would fill 16 rows of its tile per invocation with padding there, 4 to 16 times the
// multiply-adds; here each weight is read once and used M times, which is all a token's decode can do.
//
// `naive` is one invocation per element of C with a plain loop over K: the benchmark's baseline.
//
// Why 16 x 8 per invocation: SwiftShader (the CPU WebGPU the tests and the benchmark run on) runs
// four invocations as the lanes of one SIMD register. Every read of workgroup or storage memory with
// a runtime index is a masked per-lane gather there (it gives workgroup variables dynamic offsets, so
// even a constant index into the tiles gathers), many times the cost of a multiply-add on registers.
// The lever is how many multiply-adds each read feeds: a 4 x 4 block gives 2 per scalar read, 16 x 8
// gives 5.3. Measured on SwiftShader with variants of this kernel: 4 x 4 ran at half the speed of
// 8 x 8, 16 x 8 about 15% faster than 8 x 8, 16 x 16 no faster than 16 x 8 (the multiply-adds
// dominate by then). GPUs want the same thing: few shared-memory reads per FMA. (On SwiftShader the
// staging through workgroup memory buys nothing, a gather is a gather; it is there for GPUs, where it
// turns the strided reads of a transposed operand into coalesced ones and shares them.)
// The block lives in named variables, never an array indexed in the loop: SwiftShader keeps an array
// in memory and gathers from it unless every index is a constant.
// TK = 8: SwiftShader's compiler unrolls the k loop, so its compile time grows with TK; 8 measured as
// fast as 16 (4 was slower) at half the compile time.
//
// Which rows and columns an invocation owns: rows 4*(ty + g*WG_Y) + (0..3) for g in 0..3 and columns
// 4*(tx + h*WG_X) + (0..3) for h in 0..1, i.e. 4-wide groups strided by the workgroup size, so that at
// each k neighbouring invocations read neighbouring vec4 of the tiles (no bank conflicts on GPUs) and
// all invocations of a row of the workgroup read the same A (a broadcast).

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// C += op(A)·op(B) instead of C = op(A)·op(B): gradients that sum over several products.
override ACCUMULATE: bool = false;
// B holds binary16 pairs (see above) instead of f32.
override B_F16: bool = false;

override WG_X: u32 = 8;    // invocations along N
override WG_Y: u32 = 4;    // invocations along M
override TK: u32 = 8;      // depth of the K slice staged in workgroup memory
override TM: u32 = 16u * WG_Y;  // rows of the workgroup's tile (16 per invocation)
override TN: u32 = 8u * WG_X;   // columns of the workgroup's tile (8 per invocation)
override WG: u32 = WG_X * WG_Y;

// A and C are activations (`act`: f32, or f16 at f16 precision); tiles and sums stay f32.
@group(0) @binding(0) var<storage, read_write> c: array<act>;  // [M, N]
@group(0) @binding(1) var<storage, read> a: array<act>;        // [M, K], or [K, M] if TRANS_A
// [K, N], or [N, K] if TRANS_B: f32 bits, or with B_F16 binary16 pairs ([K, N/2] or [N, K/2] words).
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

// The op(A) slice, k-major: element (m, k) at tile_a[k * TM/4 + m/4][m % 4].
var<workgroup> tile_a: array<vec4<f32>, TK * TM / 4>;  // [TK, TM]
// The op(B) slice, k-major: element (k, n) at tile_b[k * TN/4 + n/4][n % 4].
var<workgroup> tile_b: array<vec4<f32>, TK * TN / 4>;  // [TK, TN]

// op(A)[m, k], zero outside the matrix (the padding of edge tiles then contributes nothing).
fn load_a(m: u32, k: u32) -> f32 {
  var v = 0.0;
  if (m < p.M && k < p.K) {
    if (TRANS_A) {
      v = f32(a[k * p.M + m]);
    } else {
      v = f32(a[m * p.K + k]);
    }
  }
  return v;
}

// op(B)[k, n], zero outside the matrix.
fn load_b(k: u32, n: u32) -> f32 {
  var v = 0.0;
  if (k < p.K && n < p.N) {
    let i = select(k * p.N + n, n * p.K + k, TRANS_B);  // B's element index in storage order
    if (B_F16) {
      // Element i is half i % 2 (low half first) of word i / 2.
      v = unpack2x16float(b[i / 2u])[i % 2u];
    } else {
      v = bitcast<f32>(b[i]);
    }
  }
  return v;
}

// Copies op(A)[m0 .. m0+TM, k0 .. k0+TK] and op(B)[k0 .. k0+TK, n0 .. n0+TN] into workgroup memory.
// Invocation lid takes elements lid, lid + WG, ...; the fastest-varying index of that enumeration is
// the one contiguous in global memory, so consecutive invocations read consecutive addresses
// (coalesced on GPUs); a transposed operand is transposed on its way into the tile.
fn stage_tiles(lid: u32, m0: u32, n0: u32, k0: u32) {
  for (var e = lid; e < TM * TK; e += WG) {
    // A [M, K] is contiguous along k, A^T ([K, M]) along m.
    let m = select(e / TK, e % TM, TRANS_A);
    let k = select(e % TK, e / TM, TRANS_A);
    tile_a[k * (TM / 4u) + m / 4u][m % 4u] = load_a(m0 + m, k0 + k);
  }
  for (var e = lid; e < TK * TN; e += WG) {
    // B [K, N] is contiguous along n, B^T ([N, K]) along k.
    let n = select(e % TN, e / TK, TRANS_B);
    let k = select(e / TN, e % TK, TRANS_B);
    tile_b[k * (TN / 4u) + n / 4u][n % 4u] = load_b(k0 + k, n0 + n);
  }
}

// The 4 x 4 outer product of four rows of A (a4) and four columns of B (b4): block[r] = a4[r] * b4.
fn outer(a4: vec4<f32>, b4: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(a4.x * b4, a4.y * b4, a4.z * b4, a4.w * b4);
}

// Writes one element of C, adding to what is there when ACCUMULATE.
fn store_c(m: u32, n: u32, value: f32) {
  if (m < p.M && n < p.N) {
    let i = m * p.N + n;
    if (ACCUMULATE) {
      c[i] = act(f32(c[i]) + value);
    } else {
      c[i] = act(value);
    }
  }
}

// Writes a 4 x 4 block of C whose top-left element is (m, n); parts outside C are dropped.
fn store_block(m: u32, n: u32, block: mat4x4<f32>) {
  for (var r = 0u; r < 4u; r++) {
    let row = block[r];
    store_c(m + r, n, row.x);
    store_c(m + r, n + 1u, row.y);
    store_c(m + r, n + 2u, row.z);
    store_c(m + r, n + 3u, row.w);
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let tx = local.x;
  let ty = local.y;
  let m0 = wid.y * TM;
  let n0 = wid.x * TN;

  // cGH: rows 4*(ty + G*WG_Y) + (0..3), columns 4*(tx + H*WG_X) + (0..3).
  var c00 = mat4x4<f32>();
  var c01 = mat4x4<f32>();
  var c10 = mat4x4<f32>();
  var c11 = mat4x4<f32>();
  var c20 = mat4x4<f32>();
  var c21 = mat4x4<f32>();
  var c30 = mat4x4<f32>();
  var c31 = mat4x4<f32>();

  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    stage_tiles(lid, m0, n0, k0);
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let ra = k * (TM / 4u) + ty;
      let a0 = tile_a[ra];
      let a1 = tile_a[ra + WG_Y];
      let a2 = tile_a[ra + 2u * WG_Y];
      let a3 = tile_a[ra + 3u * WG_Y];
      let rb = k * (TN / 4u) + tx;
      let b0 = tile_b[rb];
      let b1 = tile_b[rb + WG_X];
      c00 += outer(a0, b0);
      c01 += outer(a0, b1);
      c10 += outer(a1, b0);
      c11 += outer(a1, b1);
      c20 += outer(a2, b0);
      c21 += outer(a2, b1);
      c30 += outer(a3, b0);
      c31 += outer(a3, b1);
    }
    // The next slice overwrites the tiles: everyone must be done reading this one.
    workgroupBarrier();
  }

  // Written through a loop over the blocks (dynamic indexing is slow but happens once), which keeps
  // the shader, and its compile time on SwiftShader, small.
  let blocks = array<mat4x4<f32>, 8>(c00, c01, c10, c11, c20, c21, c30, c31);
  for (var i = 0u; i < 8u; i++) {
    store_block(m0 + 4u * (ty + (i / 2u) * WG_Y), n0 + 4u * (tx + (i % 2u) * WG_X), blocks[i]);
  }
}

override MV_WG: u32 = 64;
// Rows of A and C (1 to 4), fixed per pipeline so that the rows past M cost nothing.
override MV_ROWS: u32 = 1;

// A[0..MV_ROWS, k] as the first components of a vec4 (k < K).
fn a_column(k: u32) -> vec4<f32> {
  var v = vec4<f32>(f32(a[k]), 0.0, 0.0, 0.0);
  if (MV_ROWS > 1u) {
    v.y = f32(a[p.K + k]);
  }
  if (MV_ROWS > 2u) {
    v.z = f32(a[2u * p.K + k]);
  }
  if (MV_ROWS > 3u) {
    v.w = f32(a[3u * p.K + k]);
  }
  return v;
}

// B^T[n, k] and B^T[n, k + 1] (k + 1 < K). With B_F16 that is one packed word (k even, and the TS op
// makes K even for f16 weights).
fn b_row_pair(n: u32, k: u32) -> vec2<f32> {
  let i = n * p.K + k;
  if (B_F16) {
    return unpack2x16float(b[i / 2u]);
  }
  return vec2<f32>(bitcast<f32>(b[i]), bitcast<f32>(b[i + 1u]));
}

@compute @workgroup_size(MV_WG)
fn matvec(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let n = linear_invocation_id(wid, nwg, lid, MV_WG);
  if (n >= p.N) {
    return;
  }
  var sum = vec4<f32>();  // C[0..MV_ROWS, n]
  var k = 0u;
  for (; k + 3u < p.K; k += 4u) {
    let w0 = b_row_pair(n, k);
    let w1 = b_row_pair(n, k + 2u);
    sum += w0.x * a_column(k) + w0.y * a_column(k + 1u) + w1.x * a_column(k + 2u) + w1.y * a_column(k + 3u);
  }
  for (; k + 1u < p.K; k += 2u) {
    let w = b_row_pair(n, k);
    sum += w.x * a_column(k) + w.y * a_column(k + 1u);
  }
  if (k < p.K) {  // odd K (f32 B only)
    sum += bitcast<f32>(b[n * p.K + k]) * a_column(k);
  }
  store_c(0u, n, sum.x);
  store_c(1u, n, sum.y);
  store_c(2u, n, sum.z);
  store_c(3u, n, sum.w);
}

override NAIVE_WG: u32 = 64;

// One invocation per element of C, reading its row of op(A) and column of op(B) straight from
// global memory: no reuse at all. The baseline the benchmark compares `forward` with.
@compute @workgroup_size(NAIVE_WG)
fn naive(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = linear_invocation_id(wid, nwg, lid, NAIVE_WG);
  if (i >= p.M * p.N) {
    return;
  }
  let m = i / p.N;
  let n = i % p.N;
  var sum = 0.0;
  for (var k = 0u; k < p.K; k++) {
    sum += load_a(m, k) * load_b(k, n);
  }
  store_c(m, n, sum);
}
