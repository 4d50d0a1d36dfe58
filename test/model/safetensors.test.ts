import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.ts';
import { f16BitsToF32, f32ToBF16Bits, f32ToF16Bits } from '../../src/engine/f16.ts';
import { parseSafetensors, writeSafetensors } from '../../src/model/safetensors.ts';

/** Builds a safetensors file by hand: an 8-byte length, the header text as given, then `data`. */
function rawFile(header: string | object | Uint8Array, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const text =
    header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(text.byteLength), true);
  out.set(text, 8);
  out.set(data, 8 + text.byteLength);
  return out;
}

/** Little-endian bytes of 16-bit patterns. */
function bytes16(bits: number[]): Uint8Array {
  const out = new Uint8Array(bits.length * 2);
  bits.forEach((b, i) => {
    out[2 * i] = b & 0xff;
    out[2 * i + 1] = b >>> 8;
  });
  return out;
}

function f32OfBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

describe('safetensors round trip', () => {
  const rng = new Rng(7);

  it('F32 and I32 round trip exactly, with metadata, in every shape (scalar, empty, 1-D, 3-D)', () => {
    const f = rng.normals(2 * 3 * 5, 10);
    f[0] = -0;
    f[1] = Infinity;
    f[2] = -Infinity;
    f[3] = 1e-45; // an f32 subnormal
    f[4] = 3.4028234663852886e38;
    const ids = Int32Array.from({ length: 7 }, (_, i) => (i - 3) * 123456789);
    const bytes = writeSafetensors(
      {
        'b.weights': { dtype: 'F32', shape: [2, 3, 5], data: f },
        'a.ids': { dtype: 'I32', shape: [7], data: ids },
        scalar: { dtype: 'F32', shape: [], data: new Float32Array([42.5]) },
        empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      },
      { format: 'pt', version: 'drope-playground/1' },
    );
    const file = parseSafetensors(bytes, 'roundtrip.safetensors');
    expect(file.metadata).toEqual({ format: 'pt', version: 'drope-playground/1' });
    expect([...file.tensors.keys()].sort()).toEqual(['a.ids', 'b.weights', 'empty', 'scalar']);
    expect(file.info('b.weights')).toMatchObject({ dtype: 'F32', shape: [2, 3, 5] });
    const back = file.getF32('b.weights');
    expect(Object.is(back[0], -0)).toBe(true);
    expect(Array.from(back)).toEqual(Array.from(f));
    expect(Array.from(file.getI32('a.ids'))).toEqual(Array.from(ids));
    expect(Array.from(file.getF32('scalar'))).toEqual([42.5]);
    expect(file.info('scalar').shape).toEqual([]);
    expect(file.getF32('empty').length).toBe(0);
  });

  it('F16 and BF16 round trip every bit pattern (decode, then encode gives the same bits)', () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const bytes = rawFile(
      {
        h: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] },
        b: { dtype: 'BF16', shape: [65536], data_offsets: [131072, 262144] },
      },
      new Uint8Array([...bytes16(all), ...bytes16(all)]),
    );
    const file = parseSafetensors(bytes, 'all16.safetensors');
    const h = file.getF32('h');
    const b = file.getF32('b');
    const written = parseSafetensors(
      writeSafetensors({ h: { dtype: 'F16', shape: [65536], data: h }, b: { dtype: 'BF16', shape: [65536], data: b } }),
      'rewritten.safetensors',
    );
    const hBits = new Uint16Array(written.bytes('h').slice().buffer);
    const bBits = new Uint16Array(written.bytes('b').slice().buffer);
    for (let bits = 0; bits < 65536; bits++) {
      const hNaN = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      const bNaN = (bits & 0x7f80) === 0x7f80 && (bits & 0x7f) !== 0;
      if (hNaN) expect(Number.isNaN(h[bits])).toBe(true);
      else if (hBits[bits] !== bits) expect.fail(`F16 0x${bits.toString(16)} → ${h[bits]} → 0x${hBits[bits].toString(16)}`);
      if (bNaN) expect(Number.isNaN(b[bits])).toBe(true);
      else if (bBits[bits] !== bits) expect.fail(`BF16 0x${bits.toString(16)} → ${b[bits]} → 0x${bBits[bits].toString(16)}`);
    }
  });

  it('writes deterministically, 8-byte aligned, contiguous, and every tensor aligned to its element size', () => {
    const make = () =>
      writeSafetensors({
        z: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) },
        odd: { dtype: 'F16', shape: [3], data: new Float32Array([1, 2, 3]) },
        a: { dtype: 'BF16', shape: [1], data: new Float32Array([1]) },
        ids: { dtype: 'I32', shape: [2], data: new Int32Array([5, 6]) },
      });
    const bytes = make();
    expect(Array.from(make())).toEqual(Array.from(bytes));
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const file = parseSafetensors(bytes, 'aligned.safetensors');
    // 4-byte tensors first (by name), then 2-byte ones, so no tensor starts misaligned.
    expect([...file.tensors.keys()]).toEqual(['ids', 'z', 'a', 'odd']);
    let end = 0;
    for (const info of file.tensors.values()) {
      expect(info.dataOffsets[0]).toBe(end);
      expect(info.dataOffsets[0] % (info.dtype === 'F32' || info.dtype === 'I32' ? 4 : 2)).toBe(0);
      end = info.dataOffsets[1];
    }
    expect(8 + headerLength + end).toBe(bytes.byteLength);
  });

  it('reads tensors whose data is not 4-byte aligned in the file or the buffer', () => {
    const values = new Float32Array([1.5, -2.25, 3e-3]);
    const header = { x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } };
    const file = rawFile(JSON.stringify(header) + ' ', new Uint8Array(values.buffer)); // odd header length
    const shifted = new Uint8Array(file.byteLength + 1);
    shifted.set(file, 1);
    expect(Array.from(parseSafetensors(shifted.subarray(1), 'unaligned').getF32('x'))).toEqual(Array.from(values));
  });
});

describe('16-bit float conversions', () => {
  it('decodes known F16 bit patterns exactly', () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504], // largest finite
      [0x0400, 2 ** -14], // smallest normal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x8001, -(2 ** -24)],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [bits, value] of cases) expect(f16BitsToF32(bits), `0x${bits.toString(16)}`).toBe(value);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0xfc01))).toBe(true);
    // The same through a file, to check the table-based decoder and byte order.
    const bits = cases.map((c) => c[0]);
    const file = parseSafetensors(
      rawFile({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, 2 * bits.length] } }, bytes16(bits)),
      'f16',
    );
    expect(Array.from(file.getF32('h'))).toEqual(cases.map((c) => c[1]));
  });

  it('decodes known BF16 bit patterns exactly', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc049, -3.140625],
      [0x7f7f, 3.3895313892515355e38], // largest finite
      [0x0080, 2 ** -126], // smallest normal
      [0x0001, 2 ** -133], // smallest subnormal
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x0000, 0],
    ];
    const bits = [...cases.map((c) => c[0]), 0x8000, 0x7fc0, 0xffc1];
    const file = parseSafetensors(
      rawFile({ b: { dtype: 'BF16', shape: [bits.length], data_offsets: [0, 2 * bits.length] } }, bytes16(bits)),
      'bf16',
    );
    const got = file.getF32('b');
    cases.forEach(([b, value], i) => expect(got[i], `0x${b.toString(16)}`).toBe(value));
    expect(Object.is(got[cases.length], -0)).toBe(true);
    expect(Number.isNaN(got[cases.length + 1])).toBe(true);
    expect(Number.isNaN(got[cases.length + 2])).toBe(true);
  });

  it('encodes F16 with round-to-nearest-even, subnormals and overflow (expected bits from numpy float16)', () => {
    // [f32 bits, expected f16 bits]: numpy.float32(x).astype(numpy.float16), which rounds to nearest even.
    const cases: [number, number][] = [
      [0x00000000, 0x0000],
      [0x80000000, 0x8000],
      [0x3f800000, 0x3c00],
      [0xc0200000, 0xc100], // -2.5
      [0x477fe000, 0x7bff], // 65504
      [0x477fefff, 0x7bff], // just below 65520: still 65504
      [0x477ff000, 0x7c00], // 65520: rounds to inf
      [0x501502f9, 0x7c00], // 1e10
      [0x33800000, 0x0001], // 2^-24
      [0x33000000, 0x0000], // 2^-25: a tie, to even (zero)
      [0x33000001, 0x0001], // just above 2^-25
      [0x33400000, 0x0001], // 1.5 × 2^-25
      [0x33c00000, 0x0002], // 3 × 2^-25 = 1.5 × 2^-24: tie to even 2
      [0x34200000, 0x0002], // 2.5 × 2^-24: tie to even 2
      [0x38800000, 0x0400], // 2^-14, smallest normal
      [0x387fe000, 0x0400], // rounds up from subnormal to normal
      [0x387fc000, 0x03ff],
      [0x3f801000, 0x3c00], // 1 + 2^-11: tie to even (1)
      [0x3f803000, 0x3c02], // 1 + 3 × 2^-11: tie to even (up)
      [0x3eaaaaab, 0x3555], // 1/3
      [0x40490fdb, 0x4248], // pi
      [0x3dcccccd, 0x2e66], // 0.1
      [0x322bcc77, 0x0000], // 1e-8
      [0xb380d959, 0x8001], // -6e-8
      [0x00000001, 0x0000], // f32 subnormal
      [0x44801000, 0x6400], // 1024.5: tie to even
      [0x45001000, 0x6800], // 2049: tie to even
      [0x45003000, 0x6802], // 2051: tie to even (up)
      [0x7f800000, 0x7c00],
      [0xff800000, 0xfc00],
    ];
    for (const [f32, f16] of cases) {
      const got = f32ToF16Bits(f32OfBits(f32));
      expect(got, `f32 0x${f32.toString(16)} (${f32OfBits(f32)}) → 0x${got.toString(16)}, want 0x${f16.toString(16)}`).toBe(f16);
    }
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('encodes BF16 with round-to-nearest-even', () => {
    const cases: [number, number][] = [
      [0x3f800000, 0x3f80],
      [0x3f808000, 0x3f80], // 1 + 2^-8: tie to even (down)
      [0x3f818000, 0x3f82], // 1 + 3 × 2^-8: tie to even (up)
      [0x3f808001, 0x3f81], // just above the tie
      [0x3f807fff, 0x3f80], // just below the tie
      [0x7f7fffff, 0x7f80], // f32 max rounds to inf
      [0x00000001, 0x0000], // f32 subnormal below half a bf16 subnormal unit
      [0x00008000, 0x0000], // tie to even zero
      [0x00018000, 0x0002], // tie to even up
      [0x80000000, 0x8000],
      [0xff800000, 0xff80],
    ];
    for (const [f32, bf16] of cases) expect(f32ToBF16Bits(f32OfBits(f32)), `0x${f32.toString(16)}`).toBe(bf16);
    const nan = f32ToBF16Bits(NaN);
    expect((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0).toBe(true);
    // A signalling NaN whose payload lies only in the low 16 bits must not become infinity.
    const sNaN = f32ToBF16Bits(f32OfBits(0x7f800001));
    expect((sNaN & 0x7f80) === 0x7f80 && (sNaN & 0x7f) !== 0).toBe(true);
  });

  it('writes F16/BF16 tensors that read back as the rounded values', () => {
    const values = new Float32Array([1, 1 / 3, -7.1, 1e-6, 70000]);
    const file = parseSafetensors(
      writeSafetensors({ h: { dtype: 'F16', shape: [5], data: values }, b: { dtype: 'BF16', shape: [5], data: values } }),
      'rounded',
    );
    expect(Array.from(file.getF32('h'))).toEqual(Array.from(values, (v) => f16BitsToF32(f32ToF16Bits(v))));
    expect(file.getF32('h')[4]).toBe(Infinity);
    expect(file.getF32('b')[1]).toBe(0.333984375); // 1/3 in bfloat16: 0x3eab
  });
});

describe('safetensors validation', () => {
  const f32 = (n: number) => new Uint8Array(4 * n);
  const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: { what: string; file: () => Uint8Array; message: RegExp }[] = [
    {
      what: 'a file shorter than 8 bytes',
      file: () => new Uint8Array(5),
      message: /bad\.safetensors: the file is 5 bytes long, shorter than the 8-byte header length/,
    },
    {
      what: 'a header length past the end',
      file: () => rawFile(ok, f32(2), 1000n),
      message: /bad\.safetensors: the header length 1000 runs past the end of the file/,
    },
    {
      what: 'a huge header length',
      file: () => rawFile(ok, f32(2), 2n ** 63n),
      message: /header length 9223372036854775808 runs past the end/,
    },
    { what: 'a header that is not JSON', file: () => rawFile('{"t": ', f32(2)), message: /bad\.safetensors: the header is not valid JSON/ },
    {
      what: 'a header that is not an object',
      file: () => rawFile('[1, 2]', f32(2)),
      message: /bad\.safetensors: the header is not a JSON object/,
    },
    {
      what: 'a header that is not UTF-8',
      file: () => rawFile(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), f32(2)),
      message: /bad\.safetensors: the header is not valid UTF-8/,
    },
    { what: 'an entry that is not an object', file: () => rawFile({ t: 3 }), message: /tensor "t": the header entry is not an object/ },
    {
      what: 'an unknown dtype',
      file: () => rawFile({ t: { dtype: 'F17', shape: [2], data_offsets: [0, 8] } }, f32(2)),
      message: /bad\.safetensors: tensor "t": unknown dtype "F17"/,
    },
    {
      what: 'a bad shape',
      file: () => rawFile({ t: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, f32(2)),
      message: /tensor "t": shape \[2,-1\] is not a list of non-negative integers/,
    },
    {
      what: 'bad data_offsets',
      file: () => rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [0] } }, f32(2)),
      message: /tensor "t": data_offsets \[0\] is not a pair/,
    },
    {
      what: 'offsets out of range',
      file: () => rawFile({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)),
      message: /tensor "t": data_offsets \[0, 16\] run past the end of the data section \(8 bytes/,
    },
    {
      what: 'begin > end',
      file: () => rawFile({ t: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, f32(2)),
      message: /tensor "t": data_offsets \[8, 4\] begin after they end/,
    },
    {
      what: 'a byte size that does not match the shape',
      file: () => rawFile({ t: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, f32(2)),
      message: /tensor "t": holds 8 bytes, but shape \[3\] of F16 needs 3 × 2 = 6/,
    },
    {
      what: 'overlapping tensors',
      file: () =>
        rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)),
      message: /bad\.safetensors: tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/,
    },
    { what: 'non-string metadata', file: () => rawFile({ __metadata__: { step: 3 } }), message: /__metadata__ "step" is not a string/ },
  ];
  for (const { what, file, message } of cases) {
    it(`rejects ${what}`, () => {
      expect(() => parseSafetensors(file(), 'bad.safetensors')).toThrow(message);
    });
  }

  it('accepts a header padded with spaces and empty tensors sharing an offset', () => {
    const file = parseSafetensors(
      rawFile(
        JSON.stringify({
          e1: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
          e2: { dtype: 'I64', shape: [0], data_offsets: [4, 4] },
          ...ok,
        }) + '     ',
        f32(2),
      ),
      'padded',
    );
    expect([...file.tensors.keys()]).toEqual(['e1', 'e2', 't']);
  });

  it('names the file and tensor when a tensor is missing or has the wrong kind', () => {
    const file = parseSafetensors(rawFile(ok, f32(2)), 'x.safetensors');
    expect(() => file.getF32('nope')).toThrow(/x\.safetensors: no tensor "nope"/);
    expect(() => file.getI32('t')).toThrow(/x\.safetensors: tensor "t": dtype F32 cannot be read as integers/);
    const ints = parseSafetensors(rawFile({ i: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }, f32(1)), 'y.safetensors');
    expect(() => ints.getF32('i')).toThrow(/y\.safetensors: tensor "i": dtype I32 cannot be read as floating point/);
  });

  it('reads I64 ids and rejects values beyond int32', () => {
    const data = new Uint8Array(24);
    const dv = new DataView(data.buffer);
    dv.setBigInt64(0, 5n, true);
    dv.setBigInt64(8, -7n, true);
    dv.setBigInt64(16, 2n ** 40n, true);
    const file = parseSafetensors(
      rawFile(
        { small: { dtype: 'I64', shape: [2], data_offsets: [0, 16] }, big: { dtype: 'I64', shape: [1], data_offsets: [16, 24] } },
        data,
      ),
      'i64',
    );
    expect(Array.from(file.getI32('small'))).toEqual([5, -7]);
    expect(() => file.getI32('big')).toThrow(/i64: tensor "big": element 0 \(1099511627776\) does not fit in int32/);
  });

  it('rejects bad input to the writer', () => {
    expect(() => writeSafetensors({ t: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(
      /tensor "t": shape \[2, 2\] has 4 elements but the data has 3/,
    );
    expect(() => writeSafetensors({ t: { dtype: 'I32', shape: [1], data: new Float32Array([0.5]) } })).toThrow(
      /element 0 \(0.5\) is not an int32/,
    );
  });
});
