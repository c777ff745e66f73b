// The reliability suite: starts with an empty capture directory (what the leak scan reads) and
// the ActiveMQ distribution fetched once, before any test starts its brokers.
import { mkdirSync, rmSync } from 'node:fs';
import { fetchActiveMQ } from '../../scripts/activemq.mjs';
import { CAPTURE_DIR } from './support.js';

export default async function setup(): Promise<void> {
  rmSync(CAPTURE_DIR, { recursive: true, force: true });
  mkdirSync(CAPTURE_DIR, { recursive: true });
  await fetchActiveMQ({ quiet: true });
}
