// What every command of the CLI shares: its options, argument checks, progress output and
// opening a model on the Node WebGPU device.

import { parseArgs } from 'node:util';
import { Engine } from '../engine/engine.ts';
import { nodeGpu } from '../engine/node-gpu.ts';
import { loadCheckpoint, type Checkpoint } from '../model/checkpoint.ts';
import { LlamaModel } from '../model/model.ts';
import { parsePositionMode, type PositionMode } from '../model/positions.ts';
import { directorySource } from '../model/source-node.ts';

export class UsageError extends Error {}

export const OPTIONS = {
  model: { type: 'string' },
  ids: { type: 'string' },
  out: { type: 'string' },
  pos: { type: 'string' },
  beta: { type: 'string' },
  text: { type: 'string' },
  lengths: { type: 'string' },
  tokens: { type: 'string' },
  'beta-c': { type: 'string' },
  'train-ctx': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
  // train
  init: { type: 'string' },
  config: { type: 'string' },
  from: { type: 'string' },
  steps: { type: 'string' },
  ctx: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  seed: { type: 'string' },
  resume: { type: 'boolean' },
  'qk-norm': { type: 'boolean' },
  data: { type: 'string' },
  'save-minutes': { type: 'string' },
  // fit-beta
  grid: { type: 'string' },
} as const;

export type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export function required(args: Args, name: keyof Args): string {
  const value = args[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function number(text: string | undefined, name: string, fallback: number, check: (n: number) => boolean = Number.isFinite): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !check(n)) throw new UsageError(`--${name} must be a valid number, got "${text}"`);
  return n;
}

export const isPositiveInteger = (n: number) => Number.isInteger(n) && n >= 1;

export function numberList(text: string, name: string, check: (n: number) => boolean): number[] {
  return text.split(',').map((s) => number(s, name, NaN, check));
}

export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
  else process.stderr.write(`${message}\n`);
}

export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
}

export async function openEngine(): Promise<Engine> {
  const engine = await Engine.create(nodeGpu());
  engine.onFailure((message) => {
    process.stderr.write(`error: ${message}\n`);
    process.exit(1);
  });
  return engine;
}

export async function openModel(args: Args, checkpoint?: Checkpoint): Promise<{ engine: Engine; model: LlamaModel; dir: string }> {
  const dir = required(args, 'model');
  const loaded = checkpoint ?? (await loadCheckpoint(directorySource(dir)));
  const engine = await openEngine();
  return { engine, model: LlamaModel.fromCheckpoint(engine, loaded), dir };
}

export function positions(args: Args): PositionMode | undefined {
  return args.pos === undefined ? undefined : parsePositionMode(args.pos);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
