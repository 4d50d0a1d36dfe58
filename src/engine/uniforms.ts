// Uniform structs hold 4-byte scalars only, in declaration order: no vec3 padding rules to get wrong.
// A kernel writes `{ M: u32(m), eps: f32(1e-5) }` in the same order as its WGSL `struct Params`.

export type ScalarType = 'u32' | 'i32' | 'f32';
export interface Scalar {
  readonly type: ScalarType;
  readonly value: number;
}

export const u32 = (value: number): Scalar => ({ type: 'u32', value });
export const i32 = (value: number): Scalar => ({ type: 'i32', value });
export const f32 = (value: number): Scalar => ({ type: 'f32', value });

export type Uniforms = Record<string, Scalar>;

/** Packs scalars in insertion order, padded to 16 bytes (the minimum uniform binding granularity). */
export function packUniforms(uniforms: Uniforms): ArrayBuffer {
  const entries = Object.entries(uniforms);
  const bytes = Math.max(16, Math.ceil((entries.length * 4) / 16) * 16);
  const buffer = new ArrayBuffer(bytes);
  const view = new DataView(buffer);
  entries.forEach(([name, { type, value }], i) => {
    if (!Number.isFinite(value)) throw new Error(`uniform ${name} is not a finite number: ${value}`);
    if (type === 'f32') view.setFloat32(i * 4, value, true);
    else {
      if (!Number.isInteger(value)) throw new Error(`uniform ${name} (${type}) must be an integer, got ${value}`);
      if (type === 'u32') {
        if (value < 0 || value > 0xffffffff) throw new Error(`uniform ${name} out of u32 range: ${value}`);
        view.setUint32(i * 4, value, true);
      } else view.setInt32(i * 4, value, true);
    }
  });
  return buffer;
}
