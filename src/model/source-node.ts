// A checkpoint directory on disk (Node only: the CLI and the tests). The browser uses source-url.ts.

import { readFile, stat } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelSource } from './checkpoint.ts';

/** Reads checkpoint files from `dir`; throws at once, naming the path, when `dir` is not a directory. */
export function directorySource(dir: string): ModelSource {
  const root = resolve(dir);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(root).isDirectory();
  } catch {
    throw new Error(`checkpoint directory not found: ${root}`);
  }
  if (!isDirectory) throw new Error(`checkpoint path is not a directory: ${root}`);

  const read = async (file: string): Promise<Buffer> => {
    const path = join(root, file);
    try {
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error(`file not found: ${path}`, { cause: error });
      throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  };

  return {
    describe: root,
    async readText(file) {
      return (await read(file)).toString('utf8');
    },
    async readBytes(file) {
      const buffer = await read(file);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    },
    async has(file) {
      try {
        return (await stat(join(root, file))).isFile();
      } catch {
        return false;
      }
    },
  };
}
