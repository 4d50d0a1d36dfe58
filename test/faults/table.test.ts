// The README's table of fault cases is generated from the cases themselves (harness.ts
// renderFaultTable over every *.cases.ts), so it says exactly what the suite checks. This test
// fails when the README's copy is stale; UPDATE_FAULT_TABLE=1 rewrites it.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.ts';
import { APP_CASES } from './app.cases.ts';
import { BOUND_CASES } from './bounds.cases.ts';
import { FILE_CASES } from './files.cases.ts';
import { renderFaultTable } from './harness.ts';
import { HUB_CASES } from './hub.cases.ts';

const README = join(ROOT, 'README.md');
const START = '<!-- fault table: generated from test/faults/*.cases.ts; UPDATE_FAULT_TABLE=1 npx vitest run test/faults/table.test.ts -->';
const END = '<!-- end of fault table -->';

it("the README's fault table is the one the suite's cases give", () => {
  const table = renderFaultTable([FILE_CASES, HUB_CASES, BOUND_CASES, APP_CASES]);
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  expect(start >= 0 && end > start, `README.md has the lines\n${START}\n${END}`).toBe(true);
  const current = readme.slice(start + START.length, end).trim();
  if (process.env.UPDATE_FAULT_TABLE) {
    writeFileSync(README, `${readme.slice(0, start + START.length)}\n\n${table}\n\n${readme.slice(end)}`);
    return;
  }
  expect(current, 'the fault table in README.md is stale: UPDATE_FAULT_TABLE=1 npx vitest run test/faults/table.test.ts').toBe(table);
});
