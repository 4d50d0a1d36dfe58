// Where a command writes (`--out`), checked before it computes anything: the path must not be one
// of the command's inputs or lie inside an input folder (a model, the training data, the Hub
// cache), and its folder must exist and take a new file. Every problem is a usage error naming
// the option. The write itself is atomic (writeFileAtomic, saveCheckpointDirectory in
// src/model/save-node.ts), so a failure at the end still leaves what was there before.

import { readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { defaultHubCacheDir } from '../model/cache-node.ts';
import { checkWritableDirectory } from '../model/save-node.ts';
import { HUB_PREFIX, UsageError } from './args.ts';

/** An input of the command: a file it reads, or a folder whose files it reads. */
export interface CommandInput {
  /** The option that names it, e.g. "--model"; or what it is, e.g. "the Hub cache". */
  option: string;
  /** Undefined where the option is not given: nothing to check. */
  path: string | undefined;
  kind: 'file' | 'folder';
}

/** `--model`'s folder; for a Hub model, the cache that keeps its files. */
export function modelInput(spec: string): CommandInput {
  return spec.startsWith(HUB_PREFIX)
    ? { option: 'the Hub cache', path: defaultHubCacheDir(), kind: 'folder' }
    : { option: '--model', path: spec, kind: 'folder' };
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** The path with every symbolic link in its existing part resolved (a link to an input is that input). */
function realPath(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(realPath(parent), basename(absolute));
  }
}

function inside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Throws a UsageError when `out` (real path `target`) is one of `inputs` or inside one of their folders. */
function checkNotAnInput(out: string, target: string, inputs: CommandInput[], allowed: string[]): void {
  if (allowed.some((path) => realPath(path) === target)) return;
  const outStat = statOrNull(target);
  for (const input of inputs) {
    if (input.path === undefined) continue;
    const path = realPath(input.path);
    const sameFile =
      outStat !== null && input.kind === 'file' && statOrNull(path)?.ino === outStat.ino && statOrNull(path)?.dev === outStat.dev;
    if (path === target || sameFile) throw new UsageError(`--out ${out} is the input ${input.option} ${input.path}: it would be replaced`);
    if (input.kind === 'folder' && inside(target, path)) {
      throw new UsageError(`--out ${out} lies inside ${input.option} ${input.path}, an input folder: write it elsewhere`);
    }
  }
}

async function checkWritable(out: string, folder: string): Promise<void> {
  try {
    await checkWritableDirectory(folder);
  } catch (error) {
    throw new UsageError(`--out ${out}: ${(error as Error).message}`);
  }
}

/**
 * `--out FILE`: not an input, not inside an input folder (except the paths in `allowed`, e.g. a
 * model's own eval.json), not a directory, in a folder that exists and is writable. Returns the
 * absolute path.
 */
export async function checkFileOutput(out: string, inputs: CommandInput[], allowed: string[] = []): Promise<string> {
  const target = realPath(out);
  checkNotAnInput(out, target, inputs, allowed);
  const existing = statOrNull(target);
  if (existing?.isDirectory()) throw new UsageError(`--out ${out} is a directory: name the file to write`);
  // A device or a pipe (/dev/null, /dev/stdout) would be replaced by the rename, not written to.
  if (existing && !existing.isFile()) throw new UsageError(`--out ${out} is not a regular file (a device or a pipe): name a file`);
  const folder = dirname(target);
  if (!statOrNull(folder)?.isDirectory()) throw new UsageError(`--out ${out}: the folder ${folder} does not exist`);
  await checkWritable(out, folder);
  return target;
}

/** The names in folder `path`; none when it does not exist yet (a command creates it). */
export function folderEntries(path: string): string[] {
  return statOrNull(path)?.isDirectory() ? readdirSync(path) : [];
}

/**
 * `--out DIR` (a checkpoint folder): not an input, not inside an input folder, a directory if it
 * exists, and writable (it, or the nearest folder above it that exists). Returns the absolute path.
 */
export async function checkDirectoryOutput(out: string, inputs: CommandInput[]): Promise<string> {
  const target = realPath(out);
  checkNotAnInput(out, target, inputs, []);
  const existing = statOrNull(target);
  if (existing && !existing.isDirectory()) throw new UsageError(`--out ${out} exists and is not a directory`);
  let folder = target;
  while (!statOrNull(folder)) folder = dirname(folder);
  if (!statOrNull(folder)!.isDirectory()) throw new UsageError(`--out ${out}: ${folder} is not a directory`);
  await checkWritable(out, folder);
  return target;
}
