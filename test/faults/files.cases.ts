// Fault cases: where commands write. --out that is an input or inside an input folder, a folder
// that does not exist, a full disk, a kill between write and rename, convert over a folder that
// holds another checkpoint. Nothing the commands read or wrote before may change.

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseSafetensors } from '../../src/model/safetensors.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { keepAndRun, temporariesUnder, type FaultArea, type FaultCase } from './harness.ts';

export interface FileFixtures {
  /** A tiny F32 model folder that no case may change. */
  model: string;
  /** Token ids for logits and grads. */
  ids: string;
  /** A short text for eval. */
  text: string;
}

export function fileFixtures(dir: string): FileFixtures {
  const ids = join(dir, 'ids.json');
  writeFileSync(
    ids,
    JSON.stringify([
      [72, 101, 108, 108, 111, 44, 32, 119],
      [1, 2, 3, 250, 251, 252, 0, 9],
    ]),
  );
  const text = join(dir, 'text.txt');
  writeFileSync(text, 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want.\n');
  return { model: writeTinyModel(join(dir, 'model')), ids, text };
}

/** What most cases keep: the model. */
const model = (f: FileFixtures) => [f.model];
/** The rest of a short DroPE recalibration's command line. */
const DROPE_RUN = ['--pos', 'none', '--steps', '2', '--ctx', '8', '--batch', '1', '--lr', '1e-3'];
const logits = (f: FileFixtures, out: string) => ['logits', '--model', f.model, '--ids', f.ids, '--out', out];
const evalTo = (f: FileFixtures, out: string) => [
  'eval',
  '--model',
  f.model,
  '--text',
  f.text,
  '--lengths',
  '8',
  '--tokens',
  '32',
  '--modes',
  'rope',
  '--out',
  out,
];

/** An older checkpoint folder with files of its own weights: eval.json and train_log.json. */
function shippedFolder(dir: string): string {
  writeTinyModel(dir, undefined, 9, 'F16');
  writeFileSync(join(dir, 'eval.json'), '{"measured": "on the old weights"}\n');
  writeFileSync(join(dir, 'train_log.json'), '{"steps": []}\n');
  return dir;
}

export const FILE_CASES: FaultArea<FaultCase<FileFixtures>> = {
  title: 'Output files (test/faults/files.test.ts)',
  cases: [
    {
      fault: '--out is the model folder itself',
      command: 'convert --model MODEL --out MODEL --dtype F16',
      exit: 2,
      says: 'is the input --model',
      kept: 'MODEL',
      run: keepAndRun(model, (_, f) => ['convert', '--model', f.model, '--out', f.model, '--dtype', 'F16']),
    },
    {
      fault: '--out inside the model folder',
      command: 'convert --model MODEL --out MODEL/f16',
      exit: 2,
      says: 'lies inside --model',
      kept: 'MODEL',
      run: keepAndRun(
        model,
        (_, f) => ['convert', '--model', f.model, '--out', join(f.model, 'f16')],
        (_run, _t, f) => expect(existsSync(join(f.model, 'f16'))).toBe(false),
      ),
    },
    {
      fault: '--out holds another checkpoint, no --force',
      command: 'convert --model MODEL --out SHIPPED',
      exit: 2,
      says: 'is not empty: add --force',
      kept: 'MODEL, SHIPPED',
      async run(t, f) {
        const shipped = shippedFolder(t.path('shipped'));
        t.keep(f.model, shipped);
        return t.cli(['convert', '--model', f.model, '--out', shipped]);
      },
    },
    {
      fault: '--out holds another checkpoint, with --force',
      command: 'convert --model MODEL --out SHIPPED --force',
      exit: 0,
      says: "SHIPPED holds the new F16 weights and MODEL's files, no eval.json or train_log.json of the old weights",
      kept: 'MODEL',
      async run(t, f) {
        const shipped = shippedFolder(t.path('shipped'));
        t.keep(f.model);
        const run = await t.cli(['convert', '--model', f.model, '--out', shipped, '--force']);
        expect(readdirSync(shipped).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
        const weights = parseSafetensors(new Uint8Array(readFileSync(join(shipped, 'model.safetensors'))), 'converted');
        expect([...weights.tensors.values()].every((info) => info.dtype === 'F16')).toBe(true);
        expect(readFileSync(join(shipped, 'tokenizer.json')).equals(readFileSync(join(f.model, 'tokenizer.json')))).toBe(true);
        return run;
      },
    },
    {
      fault: 'full disk while convert replaces a checkpoint',
      command: 'convert --model MODEL --out OUT --force (OUT on a full disk)',
      exit: 1,
      says: 'no space left on device',
      kept: 'MODEL, OUT (the older checkpoint)',
      async run(t, f) {
        const disk = t.fullDisk('model.safetensors', (dir) => shippedFolder(join(dir, 'out')));
        const out = join(disk.dir, 'out');
        t.keep(f.model, out);
        return t.cli(['convert', '--model', f.model, '--out', out, '--force', '--dtype', 'F32'], disk.env);
      },
    },
    {
      fault: 'convert killed between write and rename, then run again',
      command: 'convert --model MODEL --out OUT (killed), then the same command',
      exit: 'SIGKILL',
      says: 'no OUT appears, only its staging folder; the next convert removes that and writes OUT',
      kept: 'MODEL',
      async run(t, f) {
        t.keep(f.model);
        const out = t.path('out');
        const killed = await t.cli(['convert', '--model', f.model, '--out', out], {
          DROPE_TEST_FAULT: 'kill-before-rename:model.safetensors',
        });
        expect(existsSync(out)).toBe(false);
        expect(temporariesUnder(t.dir)).toHaveLength(1);
        const again = await t.cli(['convert', '--model', f.model, '--out', out]);
        expect(again.code, again.stderr).toBe(0);
        expect(temporariesUnder(t.dir)).toEqual([]);
        expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
        return killed;
      },
    },
    {
      fault: "--out names the model's own weights",
      command: 'logits --model MODEL --ids IDS --out MODEL/model.safetensors',
      exit: 2,
      says: 'lies inside --model',
      kept: 'MODEL',
      run: keepAndRun(model, (_, f) => logits(f, join(f.model, 'model.safetensors'))),
    },
    {
      fault: '--out is a symbolic link to the weights',
      command: 'logits --model MODEL --ids IDS --out LINK (→ MODEL/model.safetensors)',
      exit: 2,
      says: 'lies inside --model',
      kept: 'MODEL',
      async run(t, f) {
        const link = t.path('link.safetensors');
        symlinkSync(join(f.model, 'model.safetensors'), link);
        t.keep(f.model);
        return t.cli(logits(f, link));
      },
    },
    {
      fault: '--out is the ids file',
      command: 'logits --model MODEL --ids IDS --out IDS',
      exit: 2,
      says: 'is the input --ids',
      kept: 'IDS, MODEL',
      run: keepAndRun(
        (f) => [f.ids, f.model],
        (_, f) => logits(f, f.ids),
      ),
    },
    {
      fault: '--out in a folder that does not exist: refused before any computation',
      command: 'eval --model MODEL --text TEXT … --out MISSING/eval.json',
      exit: 2,
      says: 'does not exist',
      kept: 'MODEL',
      run: keepAndRun(
        model,
        (t, f) => evalTo(f, t.path('missing', 'eval.json')),
        (run) => expect(run.stderr, 'no progress: nothing was computed').not.toMatch(/^eval: /m),
      ),
    },
    {
      fault: '--out is a device (/dev/null), which the rename would replace',
      command: 'logits --model MODEL --ids IDS --out /dev/null',
      exit: 2,
      says: 'is not a regular file',
      kept: 'MODEL; /dev/null is still a device',
      run: keepAndRun(
        model,
        (_, f) => logits(f, '/dev/null'),
        () => expect(statSync('/dev/null').isCharacterDevice()).toBe(true),
      ),
    },
    {
      fault: '--out is a folder',
      command: 'grads --model MODEL --ids IDS --out FOLDER',
      exit: 2,
      says: 'is a directory',
      kept: 'MODEL, FOLDER',
      async run(t, f) {
        const folder = t.path('folder');
        mkdirSync(folder);
        writeFileSync(join(folder, 'notes.txt'), 'mine');
        t.keep(f.model, folder);
        return t.cli(['grads', '--model', f.model, '--ids', f.ids, '--out', folder]);
      },
    },
    {
      fault: "--out names a model file in eval (only the model's eval.json may be written there)",
      command: 'eval --model MODEL --text TEXT … --out MODEL/config.json',
      exit: 2,
      says: 'lies inside --model',
      kept: 'MODEL',
      run: keepAndRun(model, (_, f) => evalTo(f, join(f.model, 'config.json'))),
    },
    {
      fault: 'full disk when logits writes',
      command: 'logits --model MODEL --ids IDS --out OUT (OUT on a full disk)',
      exit: 1,
      says: 'no space left on device',
      kept: 'OUT (the previous result), MODEL',
      async run(t, f) {
        const disk = t.fullDisk('out.safetensors', (dir) => writeFileSync(join(dir, 'out.safetensors'), 'the previous result'));
        t.keep(join(disk.dir, 'out.safetensors'), disk.dir, f.model);
        return t.cli(logits(f, join(disk.dir, 'out.safetensors')), disk.env);
      },
    },
    {
      fault: 'full disk when eval writes',
      command: 'eval --model MODEL --text TEXT … --out OUT (OUT on a full disk)',
      exit: 1,
      says: 'no space left on device',
      kept: 'OUT (the previous eval.json), MODEL',
      async run(t, f) {
        const disk = t.fullDisk('eval.json', (dir) => writeFileSync(join(dir, 'eval.json'), '{"previous": true}\n'));
        t.keep(disk.dir, f.model);
        return t.cli(evalTo(f, join(disk.dir, 'eval.json')), disk.env);
      },
    },
    {
      fault: 'logits killed between write and rename, then run again',
      command: 'logits --model MODEL --ids IDS --out OUT (killed), then the same command',
      exit: 'SIGKILL',
      says: 'OUT is still the previous result, beside a temporary; the next run removes it and writes OUT',
      kept: 'MODEL',
      async run(t, f) {
        const out = t.path('out.safetensors');
        writeFileSync(out, 'the previous result');
        t.keep(f.model);
        const killed = await t.cli(logits(f, out), { DROPE_TEST_FAULT: 'kill-before-rename:out.safetensors' });
        expect(readFileSync(out, 'utf8')).toBe('the previous result');
        expect(temporariesUnder(t.dir)).toHaveLength(1);
        const again = await t.cli(logits(f, out));
        expect(again.code, again.stderr).toBe(0);
        expect(temporariesUnder(t.dir)).toEqual([]);
        expect(parseSafetensors(new Uint8Array(readFileSync(out)), 'out').info('logits').shape).toEqual([2, 8, 256]);
        return killed;
      },
    },
    {
      fault: 'train --out is its --from checkpoint',
      command: 'train --from MODEL --out MODEL --pos none …',
      exit: 2,
      says: 'is the input --from',
      kept: 'MODEL',
      run: keepAndRun(model, (_, f) => ['train', '--from', f.model, '--out', f.model, ...DROPE_RUN]),
    },
    {
      fault: 'train --out inside its training data',
      command: 'train --data DATA --out DATA/run …',
      exit: 2,
      says: 'lies inside --data',
      kept: 'DATA',
      async run(t, f) {
        const data = t.path('data');
        cpSync(f.model, data, { recursive: true });
        t.keep(data);
        return t.cli(['train', '--from', f.model, '--data', data, '--out', join(data, 'run'), ...DROPE_RUN]);
      },
    },
  ],
};
