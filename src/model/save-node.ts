// Writing a checkpoint directory on disk (Node only: the CLI and the tests), so that a crash or a
// full disk never leaves a half-written checkpoint behind:
//
// - a new directory is built under a temporary sibling name and renamed into place at the end, so
//   it appears complete or not at all;
// - in an existing directory (saving over an earlier checkpoint) each file is written to a
//   temporary name beside its final one, flushed to disk (fsync), and only when every file is
//   written are they renamed over the old ones, config.json last. A rename within one directory is
//   atomic on POSIX file systems, so every file is either the old one or the complete new one.
//
// On failure the temporary files are removed and the old checkpoint is left as it was.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CONFIG_FILE } from './checkpoint.ts';

/** A plain file name: no directories, nothing hidden behind "." or "..". */
function checkFileName(name: string): void {
  if (name === '' || name === '.' || name === '..' || /[\\/\0]/.test(name)) {
    throw new Error(`cannot save checkpoint file ${JSON.stringify(name)}: expected a plain file name`);
  }
}

/** Writes bytes to a new file (failing if it exists) and flushes them to disk before returning. */
async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
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

/**
 * Writes `files` (from serializeCheckpoint) and `extra` files (tokenizer.json, training state, …;
 * strings are written as UTF-8) into `dir`, creating it if needed, atomically as described above.
 * Other files already in `dir` are left alone.
 */
export async function saveCheckpointDirectory(
  dir: string,
  files: Map<string, Uint8Array>,
  extra: Record<string, string | Uint8Array> = {},
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
  // config.json last: a reader that finds the new config finds the new weights as well.
  const names = [...all.keys()].sort((a, b) => Number(a === CONFIG_FILE) - Number(b === CONFIG_FILE));

  const root = resolve(dir);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;

  if (!(await exists(root))) {
    await mkdir(dirname(root), { recursive: true });
    const staging = join(dirname(root), `.${basename(root)}.${tag}.tmp`);
    try {
      await mkdir(staging);
      for (const name of names) await writeDurably(join(staging, name), all.get(name)!);
      await syncDirectory(staging);
      await rename(staging, root);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw new Error(`cannot save checkpoint to ${root}: ${(error as Error).message}`, { cause: error });
    }
    await syncDirectory(dirname(root));
    return;
  }

  const temporary = new Map(names.map((name) => [name, join(root, `.${name}.${tag}.tmp`)]));
  try {
    for (const name of names) await writeDurably(temporary.get(name)!, all.get(name)!);
    for (const name of names) {
      await rename(temporary.get(name)!, join(root, name));
      temporary.delete(name);
    }
  } catch (error) {
    for (const path of temporary.values()) await unlink(path).catch(() => undefined);
    throw new Error(`cannot save checkpoint to ${root}: ${(error as Error).message}`, { cause: error });
  }
  await syncDirectory(root);
}
