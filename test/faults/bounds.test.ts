// The fault cases of test/faults/bounds.cases.ts: bounds, numbers, the trainer state.

import { boundFixtures, BOUND_CASES } from './bounds.cases.ts';
import { runFaultArea } from './harness.ts';

runFaultArea(BOUND_CASES, boundFixtures);
