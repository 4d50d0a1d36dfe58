// The fault cases of test/faults/hub.cases.ts: the Hub download, against one local server.

import { startHubServer } from '../helpers/hub-server.ts';
import { runFaultArea } from './harness.ts';
import { hubFixtures, HUB_CASES } from './hub.cases.ts';

runFaultArea(
  HUB_CASES,
  async (work) => hubFixtures(await startHubServer(), work),
  (fixtures) => fixtures.server.close(),
);
