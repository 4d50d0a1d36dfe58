// Prepended to the attention families (attention, attention_naive, attention_probabilities,
// attention_decode; see src/engine/shaders.ts): their uniforms and the rule that decides which
// keys a query sees.
//
// Glossary: B batch, T sequence length, H query heads, KVH key/value heads (KVH divides H;
// query head h reads kv head h / (H / KVH)), D head dim (HEAD_DIM, a multiple of 4 in 16..128).
// Rows are tokens: row b*T + t; q and out columns are h*D + d, k and v columns are kvh*D + d.

struct Params {
  B: u32,
  T: u32,
  H: u32,
  KVH: u32,
  // beta * scale * log2(e): multiplies q·k to give base-2 logits.
  qk_scale: f32,
  // Keys a query sees, its own included: W of an attention window ("RoPE cropped to the last
  // C_train tokens"), or T for plain causal attention.
  window: u32,
}

override HEAD_DIM: u32 = 32;        // D
override D4: u32 = HEAD_DIM / 4u;   // vec4s per head row

const LN2: f32 = 0.6931471805599453;
const LOG2E: f32 = 1.4426950408889634;
const NEG: f32 = -3.0e38;  // logit of a masked key: exp2(NEG - m) = 0 for any real max m

// False when the window holds every key (window >= T: plain causal attention). The tests that a
// window needs then fold away when the pipeline is created, instead of costing a compare and a
// select per (query, key).
override WINDOWED: bool = true;

// Causal attention within a window: query t sees keys t - window + 1 .. t.
fn key_visible(key: u32, t: u32, window: u32) -> bool {
  return key <= t && (!WINDOWED || t < key + window);
}

// The first key query t sees.
fn first_visible_key(t: u32, window: u32) -> u32 {
  return select(0u, t + 1u - window, WINDOWED && t + 1u > window);
}
