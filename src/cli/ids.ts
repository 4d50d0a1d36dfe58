// Token ids for the logits and grads commands: a JSON array of equal-length arrays of integers.

import { MAX_JSON_BYTES } from '../model/source-hub.ts';
import { readText } from './args.ts';

export async function readIds(path: string): Promise<{ ids: number[]; B: number; T: number }> {
  const text = await readText(path, MAX_JSON_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`cannot read token ids from ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((row) => Array.isArray(row))) {
    throw new Error(`${path} must hold a JSON array of arrays of token ids`);
  }
  const rows = parsed as unknown[][];
  const T = rows[0].length;
  if (T < 1 || rows.some((row) => row.length !== T)) throw new Error(`${path}: every sequence must have the same, non-zero length`);
  const ids = rows.flat();
  if (!ids.every((id) => typeof id === 'number' && Number.isInteger(id))) throw new Error(`${path}: token ids must be integers`);
  return { ids: ids as number[], B: rows.length, T };
}
