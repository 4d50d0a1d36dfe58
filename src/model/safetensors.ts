// Reading and writing the safetensors format (https://github.com/huggingface/safetensors, "Format"):
//
//   [8 bytes]  N, the header length, unsigned 64-bit little-endian
//   [N bytes]  a UTF-8 JSON object: { "__metadata__"?: {string: string},
//                                     "<tensor name>": { dtype, shape, data_offsets: [begin, end] }, ... }
//              (may be padded at the end with spaces)
//   [rest]     the data section; a tensor's bytes are data[begin, end), row-major, little-endian
//
// Checkpoints come from outside (a directory, a URL, a user's upload), so the parser checks every
// field before a byte is read and names the file and the tensor in each error. Decoding to f32 is
// exact for F32, F16 and BF16 (every F16/BF16 value, subnormals, infinities and NaN included, is a
// float32 value), which lets the engine keep all weights in f32.

/** Element size in bytes of every dtype the format defines. */
import { f16BitsToF32, f32ToBF16Bits, f32ToF16Bits } from '../engine/f16.ts';
import { numel, shapeString } from '../engine/tensor.ts';

export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type SafetensorsDType = keyof typeof DTYPE_BYTES;

/** The dtypes `writeSafetensors` produces. */
export type WritableDType = 'F32' | 'F16' | 'BF16' | 'I32';

export class SafetensorsError extends Error {}

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDType;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data section, as stored in the header. */
  dataOffsets: [number, number];
}

export interface SafetensorsFile {
  /** The name given to `parseSafetensors`, used in every error. */
  readonly name: string;
  /** Every tensor of the header, in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The header's `__metadata__` ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The tensor's header entry; throws, naming the file, when there is no such tensor. */
  info(tensor: string): SafetensorsTensorInfo;
  /** The tensor's raw bytes (a view into the file, not a copy). */
  bytes(tensor: string): Uint8Array;
  /** The tensor decoded exactly to f32; F32, F16, BF16 and F64 (rounded to nearest) are accepted. */
  getF32(tensor: string): Float32Array;
  /** The tensor as int32; I32, and I64/U8/I8/I16/U16/U32 whose values fit in int32, are accepted. */
  getI32(tensor: string): Int32Array;
}

/** Largest header we accept (the reference implementation's limit is 100 MB as well). */
const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

/** Parses and validates a safetensors file. `name` (a file name or URL) appears in every error. */
export function parseSafetensors(bytes: Uint8Array, name: string): SafetensorsFile {
  function fail(message: string): never {
    throw new SafetensorsError(`safetensors file ${name}: ${message}`);
  }
  if (bytes.byteLength < 8) {
    fail(`the file is ${bytes.byteLength} bytes long, shorter than the 8-byte header length (truncated or not a safetensors file?)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) {
    fail(
      `the header length ${headerLength} runs past the end of the file (${bytes.byteLength} bytes); ` +
        'the file is truncated or not a safetensors file',
    );
  }
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) fail(`the header is ${n} bytes long, more than the ${MAX_HEADER_BYTES} allowed`);

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    return fail(`the header is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(header)) return fail('the header is not a JSON object');

  const dataStart = 8 + n;
  const dataLength = bytes.byteLength - dataStart;
  const data = bytes.subarray(dataStart);

  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [key, entry] of Object.entries(header)) {
    if (key === '__metadata__') {
      if (!isRecord(entry)) fail('__metadata__ is not an object');
      const meta = entry as Record<string, unknown>;
      for (const [metaKey, metaValue] of Object.entries(meta)) {
        if (typeof metaValue !== 'string') fail(`__metadata__ "${metaKey}" is not a string (the format allows strings only)`);
      }
      metadata = meta as Record<string, string>;
      continue;
    }
    const where = `tensor "${key}"`;
    if (!isRecord(entry)) return fail(`${where}: the header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isDType(dtype)) {
      return fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      return fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] begin after they end`);
    if (end > dataLength) {
      fail(`${where}: data_offsets [${begin}, ${end}] run past the end of the data section (${dataLength} bytes; truncated file?)`);
    }
    const elements = numel(shape as number[]);
    const expectedBytes = elements * DTYPE_BYTES[dtype];
    if (end - begin !== expectedBytes) {
      fail(
        `${where}: holds ${end - begin} bytes, but shape ${shapeString(shape as number[])} of ${dtype} ` +
          `needs ${elements} × ${DTYPE_BYTES[dtype]} = ${expectedBytes}`,
      );
    }
    tensors.set(key, { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] });
  }

  // Tensors must not share bytes (empty tensors occupy none, so they may sit anywhere).
  const byStart = [...tensors].filter(([, t]) => t.dataOffsets[1] > t.dataOffsets[0]);
  byStart.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < byStart.length; i++) {
    const [prevName, prev] = byStart[i - 1];
    const [curName, cur] = byStart[i];
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      fail(
        `tensors "${prevName}" [${prev.dataOffsets.join(', ')}] and "${curName}" [${cur.dataOffsets.join(', ')}] ` +
          'overlap in the data section',
      );
    }
  }

  // As the reference implementation requires: the tensors fill the data section to its end, so
  // bytes after them mean a damaged file (two files run together, a body longer than its header says).
  const end = byStart.reduce((max, [, t]) => Math.max(max, t.dataOffsets[1]), 0);
  if (end !== dataLength) {
    fail(
      `the tensors end at byte ${end} of the ${dataLength}-byte data section: ${dataLength - end} bytes follow them that no tensor holds`,
    );
  }

  const info = (tensor: string): SafetensorsTensorInfo => {
    const found = tensors.get(tensor);
    if (!found) return fail(`no tensor "${tensor}"`);
    return found;
  };
  const rawBytes = (tensor: string): Uint8Array => {
    const [begin, end] = info(tensor).dataOffsets;
    return data.subarray(begin, end);
  };

  return {
    name,
    tensors,
    metadata,
    info,
    bytes: rawBytes,
    getF32(tensor: string): Float32Array {
      const { dtype } = info(tensor);
      const raw = rawBytes(tensor);
      switch (dtype) {
        case 'F32':
          return decodeF32(raw);
        case 'F16':
          return decodeF16(raw);
        case 'BF16':
          return decodeBF16(raw);
        case 'F64': {
          const out = new Float32Array(raw.byteLength / 8);
          const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
          for (let i = 0; i < out.length; i++) out[i] = dv.getFloat64(i * 8, true);
          return out;
        }
        default:
          return fail(`tensor "${tensor}": dtype ${dtype} cannot be read as floating point (F32, F16, BF16 or F64 expected)`);
      }
    },
    getI32(tensor: string): Int32Array {
      const { dtype } = info(tensor);
      const raw = rawBytes(tensor);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const size = DTYPE_BYTES[dtype];
      const out = new Int32Array(raw.byteLength / size);
      const read: ((i: number) => number | bigint) | null =
        dtype === 'I32'
          ? (i) => dv.getInt32(i * 4, true)
          : dtype === 'I64'
            ? (i) => dv.getBigInt64(i * 8, true)
            : dtype === 'U64'
              ? (i) => dv.getBigUint64(i * 8, true)
              : dtype === 'U32'
                ? (i) => dv.getUint32(i * 4, true)
                : dtype === 'I16'
                  ? (i) => dv.getInt16(i * 2, true)
                  : dtype === 'U16'
                    ? (i) => dv.getUint16(i * 2, true)
                    : dtype === 'I8'
                      ? (i) => dv.getInt8(i)
                      : dtype === 'U8'
                        ? (i) => dv.getUint8(i)
                        : null;
      if (!read) return fail(`tensor "${tensor}": dtype ${dtype} cannot be read as integers`);
      for (let i = 0; i < out.length; i++) {
        const value = read(i);
        if (value < -2147483648 || value > 2147483647) {
          fail(`tensor "${tensor}": element ${i} (${value}) does not fit in int32`);
        }
        out[i] = Number(value);
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Exact conversions between f32 and the 16-bit float formats.

/** Copies little-endian f32 bytes into a fresh, aligned Float32Array (the source may be unaligned). */
function decodeF32(raw: Uint8Array): Float32Array {
  const out = new Float32Array(raw.byteLength / 4);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(raw);
  } else {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}

function read16(raw: Uint8Array): Uint16Array {
  const out = new Uint16Array(raw.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = raw[2 * i] | (raw[2 * i + 1] << 8);
  return out;
}

let f16Table: Float32Array | null = null;

function decodeF16(raw: Uint8Array): Float32Array {
  // 65536 entries (256 KiB) decode any tensor by lookup.
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16Table[bits] = f16BitsToF32(bits);
  }
  const table = f16Table;
  const halves = read16(raw);
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]];
  return out;
}

function decodeBF16(raw: Uint8Array): Float32Array {
  // bfloat16 is the upper half of a float32, so widening is a 16-bit shift of the bits
  // (NaN payloads and signed zeros survive unchanged).
  const halves = read16(raw);
  const out = new Float32Array(halves.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < halves.length; i++) outBits[i] = halves[i] << 16;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing.

export interface WritableTensor {
  dtype: WritableDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

/**
 * Serializes tensors to safetensors bytes. The layout is deterministic: tensors are stored by
 * decreasing element size, then by name, so every tensor starts at a multiple of its element size
 * (the data section starts 8-byte aligned: the header is padded with spaces, as the format allows)
 * and tensors are contiguous, as the reference implementation requires. Header keys follow the
 * same order, after `__metadata__`.
 */
export function writeSafetensors(tensors: Record<string, WritableTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === '__metadata__') throw new SafetensorsError('writeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    const { dtype, shape, data } = tensors[name];
    if (!['F32', 'F16', 'BF16', 'I32'].includes(dtype)) {
      throw new SafetensorsError(`writeSafetensors: tensor "${name}": cannot write dtype ${dtype}`);
    }
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(
        `writeSafetensors: tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
      );
    }
    const elements = numel(shape);
    if (data.length !== elements) {
      throw new SafetensorsError(
        `writeSafetensors: tensor "${name}": shape ${shapeString(shape)} has ${elements} elements but the data has ${data.length}`,
      );
    }
  }
  if (metadata) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new SafetensorsError(`writeSafetensors: metadata "${key}" is not a string`);
    }
  }
  names.sort((a, b) => {
    const size = DTYPE_BYTES[tensors[b].dtype] - DTYPE_BYTES[tensors[a].dtype];
    return size !== 0 ? size : a < b ? -1 : a > b ? 1 : 0;
  });

  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const name of names) {
    const { dtype, shape } = tensors[name];
    const bytes = numel(shape) * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil((8 + json.byteLength) / 8) * 8 - 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength);

  let position = 8 + headerLength;
  for (const name of names) {
    const { dtype, data } = tensors[name];
    switch (dtype) {
      case 'F32':
        for (let i = 0; i < data.length; i++) view.setFloat32(position + 4 * i, data[i], true);
        position += 4 * data.length;
        break;
      case 'F16':
        for (let i = 0; i < data.length; i++) view.setUint16(position + 2 * i, f32ToF16Bits(data[i]), true);
        position += 2 * data.length;
        break;
      case 'BF16':
        for (let i = 0; i < data.length; i++) view.setUint16(position + 2 * i, f32ToBF16Bits(data[i]), true);
        position += 2 * data.length;
        break;
      case 'I32':
        for (let i = 0; i < data.length; i++) {
          const value = data[i];
          if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
            throw new SafetensorsError(`writeSafetensors: tensor "${name}": element ${i} (${value}) is not an int32`);
          }
          view.setInt32(position + 4 * i, value, true);
        }
        position += 4 * data.length;
        break;
    }
  }
  return out;
}
