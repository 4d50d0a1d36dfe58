// Token embedding lookup, as Hugging Face's LlamaModel.embed_tokens (an nn.Embedding) computes it:
//   out[r, :] = table[ids[r], :]
// One invocation per output element, dispatched one-dimensionally: R·C can exceed
// 65535 workgroups × WG, so the dispatch may be folded into x·y (see `foldDispatch`).
//
// Backward scatters the output gradient back (entry points backward_zero, backward_links, backward):
//   dtable[v, :] (+)= sum over rows r with ids[r] == v of dout[r, :]
// deterministically and without float atomics (WGSL has none): the rows holding one id form a
// chain in row order, and the first row of the chain ("owner") walks it and adds the sum, so
// every element of dtable has one writer and a fixed summation order.
//
// Half-precision table (TABLE_F16): the table may hold binary16 values packed two per u32 word
// along C (C even), unpacked with the core built-in `unpack2x16float`; the output stays f32. The
// table is bound as raw 32-bit words either way, so forward has one binding and one body (the same
// scheme as matmul.wgsl's B_F16, which lets the tied LM head read this same table).
//
// Glossary: R rows (B*T tokens), C channels (hidden size), V vocabulary size.

struct Params {
  n: u32,  // R * C, the number of output elements
  C: u32,
  V: u32,
}

override WG: u32 = 64;
// The table holds binary16 pairs instead of f32.
override TABLE_F16: bool = false;

// out is an activation (`act`: f32, or f16 at f16 precision).
@group(0) @binding(0) var<storage, read_write> out: array<act>;  // [R, C]
@group(0) @binding(1) var<storage, read> ids: array<u32>;        // [R], token ids
// [V, C], model.embed_tokens.weight: f32 bits, or with TABLE_F16 binary16 pairs ([V, C/2] words).
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = linear_invocation_id(wid, nwg, lid, WG);
  // Folding and rounding up to whole workgroups add invocations past the end.
  if (i >= p.n) {
    return;
  }
  let row = i / p.C;
  let c = i % p.C;
  let id = ids[row];
  // The model checks ids < V on the CPU before upload; a bad id must still never read outside
  // the table (robust-access behaviour differs between backends), so it yields a zero row.
  if (id >= p.V) {
    out[i] = act(0.0);
    return;
  }
  let t = id * p.C + c;  // the table element
  if (TABLE_F16) {
    // Element t is half t % 2 (low half first) of word t / 2.
    out[i] = act(unpack2x16float(table[t / 2u])[t % 2u]);
  } else {
    out[i] = act(bitcast<f32>(table[t]));
  }
}

// ------------------------------------------------------------------------------- backward
// Three passes:
//   backward_zero   clears dtable (overwrite mode only; accumulate keeps what is there, e.g. the
//                   tied LM head's gradient from a matmul),
//   backward_links  links each row to the next row with the same id (ids only, O(R^2) compares
//                   in the worst case of all-distinct ids, but independent of C),
//   backward        one invocation per (row, channel): chain owners walk their chain, O(R * C).

struct ZeroParams {
  n: u32,  // V * C, the number of elements of dtable
}

@group(0) @binding(0) var<storage, read_write> zero_dtable: array<f32>;  // [V, C]
@group(0) @binding(1) var<uniform> zp: ZeroParams;

@compute @workgroup_size(WG)
fn backward_zero(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = linear_invocation_id(wid, nwg, lid, WG);
  if (i >= zp.n) {
    return;
  }
  zero_dtable[i] = 0.0;
}

// links[r] = index of the next row holding ids[r] (R if none), with HAS_PREVIOUS set when an
// earlier row holds it too (then r is not the chain's owner). R < 2^31, so bit 31 is free.
const HAS_PREVIOUS: u32 = 0x80000000u;

struct LinkParams {
  R: u32,
}

@group(0) @binding(0) var<storage, read_write> links: array<u32>;  // [R]
@group(0) @binding(1) var<storage, read> link_ids: array<u32>;     // [R], forward's token ids
@group(0) @binding(2) var<uniform> lp: LinkParams;

// One invocation per row. Both scans stop at the nearest match, so frequent ids are linked fast.
@compute @workgroup_size(WG)
fn backward_links(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let r = linear_invocation_id(wid, nwg, lid, WG);
  if (r >= lp.R) {
    return;
  }
  let id = link_ids[r];
  var next = lp.R;
  for (var j = r + 1u; j < lp.R; j++) {
    if (link_ids[j] == id) {
      next = j;
      break;
    }
  }
  var previous = 0u;
  for (var j = r; j > 0u; j--) {
    if (link_ids[j - 1u] == id) {
      previous = HAS_PREVIOUS;
      break;
    }
  }
  links[r] = next | previous;
}

struct BackwardParams {
  n: u32,  // R * C, the number of (row, channel) invocations
  R: u32,
  C: u32,
  V: u32,
}

@group(0) @binding(0) var<storage, read_write> dtable: array<f32>;  // [V, C], added to
@group(0) @binding(1) var<storage, read> dout: array<f32>;          // [R, C], gradient of out
@group(0) @binding(2) var<storage, read> bids: array<u32>;          // [R], forward's token ids
@group(0) @binding(3) var<storage, read> blinks: array<u32>;        // [R], from backward_links
@group(0) @binding(4) var<uniform> bp: BackwardParams;

// One invocation per element of dout, like forward. Only chain owners do work: they sum their
// id's rows in row order and do the one read-modify-write of dtable[id, c]. Ids >= V (the model
// rejects them before upload) are skipped, never written out of bounds.
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = linear_invocation_id(wid, nwg, lid, WG);
  if (i >= bp.n) {
    return;
  }
  let r = i / bp.C;
  let c = i % bp.C;
  let id = bids[r];
  if ((blinks[r] & HAS_PREVIOUS) != 0u || id >= bp.V) {
    return;
  }
  var sum = 0.0;
  // Links point to later rows only, so the walk ends (at the sentinel R).
  for (var j = r; j < bp.R; j = blinks[j] & ~HAS_PREVIOUS) {
    sum += dout[j * bp.C + c];
  }
  dtable[id * bp.C + c] += sum;
}
