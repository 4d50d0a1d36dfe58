// Writing files on disk (Node only: the CLI, the Hub cache and the tests). Every file the CLI
// writes goes through this module, so that a crash, a kill or a full disk never leaves a
// half-written file behind and never costs the file that was there before:
//
// - one file (writeFileAtomic) is written to a temporary name beside its final one
//   (".NAME.PID-RANDOM.tmp"), flushed to disk (fsync), and only then renamed over the final name;
// - a checkpoint directory (saveCheckpointDirectory): a new directory is built under a temporary
//   sibling name and renamed into place at the end, so it appears complete or not at all; in an
//   existing directory (saving over an earlier checkpoint) each file is written to a temporary
//   name beside its final one and flushed, and only when every file is written are they renamed
//   over the old ones, config.json last.
//
// A rename within one directory is atomic on POSIX file systems, so every file is either the old
// one or the complete new one. On failure the temporary files are removed and the old files are
// left as they were. A killed process cannot remove its temporaries: the next write into that
// folder removes every temporary whose process is gone (removeStaleTemporaries).
//
// Fault injection, for tests only: DROPE_TEST_FAULT="enospc:NAME" makes writing a file whose path
// ends in /NAME (a file name, or the last parts of a path) fail half-way with the error a full disk
// gives (ENOSPC), and "kill-before-rename:NAME" kills the process (SIGKILL) once that file's
// temporary is flushed, just before its rename. Where a test can mount a small tmpfs it fills a
// real disk instead (test/faults/); this hook serves where it cannot.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { CONFIG_FILE } from './checkpoint.ts';

/** ".NAME.PID-RANDOM.tmp": what this module names a file (or staging directory) before its rename. */
const TEMPORARY_NAME = /^\..+\.(\d+)-[0-9a-f]{8}\.tmp$/;

function temporaryName(name: string): string {
  return `.${name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}

/** DROPE_TEST_FAULT's fault for the file at `path`, if any (see the header). */
function injectedFault(path: string): 'enospc' | 'kill-before-rename' | undefined {
  const spec = process.env.DROPE_TEST_FAULT;
  if (!spec) return undefined;
  const colon = spec.indexOf(':');
  const fault = spec.slice(0, colon);
  if (!`/${path.split(sep).join('/')}`.endsWith(`/${spec.slice(colon + 1)}`)) return undefined;
  return fault === 'enospc' || fault === 'kill-before-rename' ? fault : undefined;
}

/** A plain file name: no directories, nothing hidden behind "." or "..". */
function checkFileName(name: string): void {
  if (name === '' || name === '.' || name === '..' || /[\\/\0]/.test(name)) {
    throw new Error(`cannot save checkpoint file ${JSON.stringify(name)}: expected a plain file name`);
  }
}

/**
 * Writes bytes to a new file (failing if it exists) and flushes them to disk before returning.
 * `target` is the path the bytes are for, once renamed (for DROPE_TEST_FAULT).
 */
async function writeDurably(path: string, bytes: Uint8Array, target: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    if (injectedFault(target) === 'enospc') {
      await handle.writeFile(bytes.subarray(0, bytes.byteLength >> 1));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    }
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (injectedFault(target) === 'kill-before-rename') process.kill(process.pid, 'SIGKILL');
}

/** Flushes a directory's entries (the renames) to disk; not every platform can open a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows cannot fsync a directory; the renames are still atomic, only their durability is the OS's.
  } finally {
    await handle?.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporaries (files and staging directories) that killed processes left in `dir`:
 * those named as this module names them whose process no longer runs. Returns their names.
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMPORARY_NAME.exec(name);
    if (!match || processAlive(Number(match[1]))) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/**
 * Throws, naming the folder, unless a file can be created in `dir` (it must exist): what a command
 * checks before it computes anything it would then fail to write. Removes stale temporaries there.
 */
export async function checkWritableDirectory(dir: string): Promise<void> {
  await removeStaleTemporaries(dir);
  const probe = join(dir, temporaryName('probe'));
  try {
    await (await open(probe, 'wx')).close();
  } catch (error) {
    throw new Error(`cannot write in ${dir}: ${(error as Error).message}`, { cause: error });
  }
  await unlink(probe);
}

/**
 * Writes `content` (a string as UTF-8) to `path` atomically: a temporary file in the same folder,
 * flushed, then renamed over `path`. On any failure `path` is as it was and no temporary is left;
 * the error names `path`.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const name = basename(target);
  await removeStaleTemporaries(dir);
  const temporary = join(dir, temporaryName(name));
  const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  try {
    await writeDurably(temporary, bytes, target);
    await rename(temporary, target);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new Error(`cannot write ${target}: ${(error as Error).message}`, { cause: error });
  }
  await syncDirectory(dir);
}

export interface SaveCheckpointOptions {
  /**
   * Files of an earlier checkpoint in the directory that do not belong to the new one (an
   * eval.json of other weights): removed once the new files are in place, before config.json's
   * rename, so the finished directory holds none of them.
   */
  remove?: readonly string[];
}

/**
 * Writes `files` (from serializeCheckpoint) and `extra` files (tokenizer.json, training state, …;
 * strings are written as UTF-8) into `dir`, creating it if needed, atomically as described above.
 * Other files already in `dir` are left alone, except those `options.remove` names.
 */
export async function saveCheckpointDirectory(
  dir: string,
  files: Map<string, Uint8Array>,
  extra: Record<string, string | Uint8Array> = {},
  options: SaveCheckpointOptions = {},
): Promise<void> {
  const all = new Map<string, Uint8Array>();
  for (const [name, bytes] of files) {
    checkFileName(name);
    all.set(name, bytes);
  }
  for (const [name, content] of Object.entries(extra)) {
    checkFileName(name);
    if (all.has(name)) throw new Error(`cannot save checkpoint file ${name} twice (it is both a checkpoint file and an extra file)`);
    all.set(name, typeof content === 'string' ? new TextEncoder().encode(content) : content);
  }
  const remove = (options.remove ?? []).filter((name) => !all.has(name));
  remove.forEach(checkFileName);
  // config.json last: a reader that finds the new config finds the new weights as well.
  const names = [...all.keys()].sort((a, b) => Number(a === CONFIG_FILE) - Number(b === CONFIG_FILE));

  const root = resolve(dir);
  await removeStaleTemporaries(dirname(root));

  if (!(await exists(root))) {
    await mkdir(dirname(root), { recursive: true });
    const staging = join(dirname(root), temporaryName(basename(root)));
    try {
      await mkdir(staging);
      for (const name of names) await writeDurably(join(staging, name), all.get(name)!, join(root, name));
      await syncDirectory(staging);
      await rename(staging, root);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw new Error(`cannot save checkpoint to ${root}: ${(error as Error).message}`, { cause: error });
    }
    await syncDirectory(dirname(root));
    return;
  }

  await removeStaleTemporaries(root);
  const temporary = new Map(names.map((name) => [name, join(root, temporaryName(name))]));
  try {
    for (const name of names) await writeDurably(temporary.get(name)!, all.get(name)!, join(root, name));
    for (const [i, name] of names.entries()) {
      // The stale files go just before the last rename (config.json's when it is saved).
      if (i === names.length - 1) for (const stale of remove) await rm(join(root, stale), { force: true });
      await rename(temporary.get(name)!, join(root, name));
      temporary.delete(name);
    }
  } catch (error) {
    for (const path of temporary.values()) await unlink(path).catch(() => undefined);
    throw new Error(`cannot save checkpoint to ${root}: ${(error as Error).message}`, { cause: error });
  }
  await syncDirectory(root);
}
