// The real command line as a child process, exactly as `npm run cli -- <args>` runs it (node with
// tsx and the ?raw loader, cwd = repository root), with a timeout so a hang fails the test.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Run {
  code: number | null;
  /** The signal that ended the process, if one did (a test's SIGKILL, or a fault that kills it). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<Run> {
  return runNode(['--import', 'tsx', '--import', './src/cli/register-raw.mjs', 'src/cli/main.ts', ...args], ROOT, env, timeoutMs);
}

/** `node ...argv` in `cwd`, killed after `timeoutMs`. */
export function runNode(argv: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export function describeRun(run: Run): string {
  return `exit ${run.code}${run.timedOut ? ' (timed out)' : ''}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;
}

export function expectSuccess(run: Run): void {
  expect(run.timedOut, describeRun(run)).toBe(false);
  expect(run.code, describeRun(run)).toBe(0);
}
