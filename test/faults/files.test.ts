// The fault cases of test/faults/files.cases.ts: where commands write.

import { fileFixtures, FILE_CASES } from './files.cases.ts';
import { runFaultArea } from './harness.ts';

runFaultArea(FILE_CASES, async (work) => fileFixtures(work));
