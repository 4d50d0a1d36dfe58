// The frame of the fault-injection suite (test/faults/). Each case is data (what goes wrong, the
// command, how it must end, what its one error line must say, what must survive it) plus a `run`
// that builds the fault and runs the real CLI as a child process. The *.test.ts files here run
// the cases; table.test.ts renders the same cases as the README's table (renderFaultTable) and
// fails when the README's copy is stale, so the table is exactly what the suite checks.
//
// Every run is capped: a timeout (a hang fails) and a V8 heap of HEAP_CAP_MB (a command that builds
// something huge from a small bad input runs out of heap and fails instead of passing slowly).
// What a case keeps (t.keep) is hashed before the fault and after it: every file there before must
// be byte-identical after, and no temporary may be left in it.

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, runCli, type Run } from '../helpers/cli.ts';

/** Generous for a tiny model on a busy software GPU, short enough that a hang fails. */
export const RUN_TIMEOUT_MS = 90_000;
/** A case (or a fixture) runs the CLI up to twice, and may wait for a free slot (RUN_SLOTS) first. */
export const CASE_TIMEOUT_MS = 3 * RUN_TIMEOUT_MS;
/**
 * CLI runs at once per test file: the cases start together, and more processes than this only
 * share the same cores more finely (each run slower, nearer its timeout).
 */
const RUN_SLOTS = 3;
let freeSlots = RUN_SLOTS;
const waitingForSlot: (() => void)[] = [];

async function inSlot<T>(job: () => Promise<T>): Promise<T> {
  if (freeSlots > 0) freeSlots--;
  else await new Promise<void>((resolve) => waitingForSlot.push(resolve));
  try {
    return await job();
  } finally {
    const next = waitingForSlot.shift();
    if (next) next();
    else freeSlots++;
  }
}
/** The heap every CLI run gets: far above what the tiny models need (~60 MB), far below what a bad input could claim. */
export const HEAP_CAP_MB = 256;

/** What the README's table shows of a case: the command line's (FaultCase) and the app's (app.cases.ts). */
export interface FaultRow {
  /** What goes wrong. */
  fault: string;
  /** The command as the table shows it, paths named by role (MODEL, OUT, …); for the app, what the user does. */
  command: string;
  /** How the run must end: an exit code, killed (the fault kills the process on purpose), or a message on the page. */
  exit: 0 | 1 | 2 | 'SIGKILL' | 'page';
  /** For exit 1 and 2 (and the page), text the one error line must contain; otherwise the outcome the case checks. */
  says: string;
  /** What must survive: hashed before the fault and after it. */
  kept: string;
}

export interface FaultCase<F> extends FaultRow {
  exit: 0 | 1 | 2 | 'SIGKILL';
  /** Builds the fault (with the area's fixtures `f`), runs the CLI, keeps (t.keep) what must survive, checks what is particular to it. */
  run(t: FaultRun, f: F): Promise<Run>;
}

export interface FaultArea<Row extends FaultRow> {
  title: string;
  cases: Row[];
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const TEMPORARY = /^\..+\.\d+-[0-9a-f]{8}\.tmp$/;

/** Every file under `path` (a file or a folder), by path relative to it, with its SHA-256. */
export function hashTree(path: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(path)) return out;
  if (!statSync(path).isDirectory()) return out.set('', sha256(readFileSync(path)));
  for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const file = join(entry.parentPath, entry.name);
      out.set(relative(path, file), sha256(readFileSync(file)));
    }
  }
  return out;
}

/** Temporaries (".NAME.PID-RANDOM.tmp", files or staging folders) anywhere under `dir`. */
export function temporariesUnder(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => TEMPORARY.test(entry.name))
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

let mountable: boolean | undefined;

/**
 * Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN): then a full disk is a real one.
 * FAULTS_INJECT_ENOSPC=1 uses the injected error instead, to check that path where mounting works.
 */
function canMount(): boolean {
  if (mountable !== undefined) return mountable;
  mountable = false;
  if (process.env.FAULTS_INJECT_ENOSPC || process.platform !== 'linux' || process.getuid?.() !== 0) return mountable;
  const probe = join(process.env.TMPDIR ?? '/tmp', `mount-probe-${process.pid}`);
  try {
    mkdirSync(probe, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    mountable = true;
  } catch {
    // Not permitted here: the injected error stands in.
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  return mountable;
}

/** One run of a case: its scratch folder, what it keeps, the full disk it may mount. */
export class FaultRun {
  private readonly kept = new Map<string, Map<string, string>>();
  private readonly mounts: string[] = [];

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** A path in the scratch folder. */
  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Hashes every file under each path now; after the run they must all be there, unchanged. */
  keep(...paths: string[]): void {
    for (const path of paths) this.kept.set(path, hashTree(path));
  }

  /** The real CLI with the heap cap and a timeout, in one of the RUN_SLOTS. */
  cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return inSlot(() => runCli(args, { NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MB}`, ...env }, RUN_TIMEOUT_MS));
  }

  /**
   * A folder whose disk is full once `prepare` has put its files there: a 1 MB tmpfs filled to the
   * last page where this process may mount one, otherwise an ordinary folder and the environment
   * (DROPE_TEST_FAULT) that makes writing the file `name` fail as a full disk does (ENOSPC).
   */
  fullDisk(name: string, prepare: (dir: string) => void): { dir: string; env: Record<string, string> } {
    const dir = this.path('full-disk');
    mkdirSync(dir);
    if (!canMount()) {
      prepare(dir);
      return { dir, env: { DROPE_TEST_FAULT: `enospc:${name}` } };
    }
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    this.mounts.push(dir);
    prepare(dir);
    const { bavail, bsize } = statfsSync(dir);
    writeFileSync(join(dir, 'filler'), new Uint8Array(Number(bavail) * Number(bsize)));
    return { dir, env: {} };
  }

  /** What every case must show: kept files unchanged and no temporary left beside them. */
  checkKept(): void {
    for (const [path, before] of this.kept) {
      const after = hashTree(path);
      for (const [file, hash] of before) expect(after.get(file), `${join(path, file)} kept unchanged`).toBe(hash);
      expect(temporariesUnder(path), `no temporary left in ${path}`).toEqual([]);
    }
  }

  cleanup(): void {
    for (const dir of this.mounts) execFileSync('umount', [dir]);
  }
}

/**
 * The run of a case that needs nothing but to keep `kept(f)`, run the CLI with `args(t, f)` and
 * check what is particular to it (`check`, after the run).
 */
export const keepAndRun =
  <F>(kept: (f: F) => string[], args: (t: FaultRun, f: F) => string[], check?: (run: Run, t: FaultRun, f: F) => void) =>
  async (t: FaultRun, f: F): Promise<Run> => {
    t.keep(...kept(f));
    const run = await t.cli(args(t, f));
    check?.(run, t, f);
    return run;
  };

/** Runs one case and checks how it ended, its one error line and what it kept. */
async function runFaultCase<F>(c: FaultCase<F>, dir: string, fixtures: F): Promise<void> {
  const t = new FaultRun(dir);
  try {
    const run = await c.run(t, fixtures);
    const what = describeRun(run);
    expect(run.timedOut, what).toBe(false);
    if (c.exit === 'SIGKILL') expect(run.signal, what).toBe('SIGKILL');
    else expect(run.code, what).toBe(c.exit);
    if (c.exit === 1 || c.exit === 2) {
      expect(run.stdout, what).toBe('');
      const errors = run.stderr.split('\n').filter((line) => line.startsWith('error:'));
      expect(errors, what).toHaveLength(1);
      expect(errors[0], what).toContain(c.says);
      expect(run.stderr, `${what}\nno stack trace`).not.toMatch(/^\s+at /m);
      if (c.exit === 2) expect(run.stderr, what).toMatch(/^usage: /m);
    }
    t.checkKept();
  } finally {
    t.cleanup();
  }
}

/**
 * Registers an area's cases with vitest, at once (each in its own folder): `makeFixtures` builds
 * what they share in a scratch folder before them, `release` lets go of it after them.
 */
export function runFaultArea<F>(
  area: FaultArea<FaultCase<F>>,
  makeFixtures: (work: string) => Promise<F>,
  release: (fixtures: F) => Promise<void> = async () => undefined,
): void {
  const work = mkdtempSync(join(tmpdir(), 'faults-'));
  let fixtures: F | undefined;
  beforeAll(async () => {
    fixtures = await makeFixtures(work);
  }, CASE_TIMEOUT_MS);
  afterAll(async () => {
    if (fixtures !== undefined) await release(fixtures);
    rmSync(work, { recursive: true, force: true });
  });
  describe.concurrent(area.title, () => {
    area.cases.forEach((c, i) => it(c.fault, { timeout: CASE_TIMEOUT_MS }, () => runFaultCase(c, join(work, `case-${i}`), fixtures!)));
  });
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The README's table of every case: one row each, numbered across the areas. */
export function renderFaultTable(areas: FaultArea<FaultRow>[]): string {
  const rows = [
    '| # | Fault | Command or action | Exit | The error says (or what is checked) | Unchanged (SHA-256 before and after) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  let n = 0;
  for (const area of areas) {
    rows.push(`| | **${cell(area.title)}** | | | | |`);
    for (const c of area.cases) {
      const exit = c.exit === 'SIGKILL' ? 'killed' : c.exit === 'page' ? 'message' : String(c.exit);
      rows.push(`| ${++n} | ${cell(c.fault)} | \`${cell(c.command)}\` | ${exit} | ${cell(c.says)} | ${cell(c.kept)} |`);
    }
  }
  return rows.join('\n');
}
