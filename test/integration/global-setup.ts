// Starts one real ActiveMQ broker for the integration tests (AMQP over TLS with a password, as
// Amazon MQ runs it) and stops it after. Tests that stop or restart a broker start their own.
import type { TestProject } from 'vitest/node';
import { readFileSync } from 'node:fs';
import { startBroker, type BrokerInfo } from '../../scripts/activemq.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    broker: BrokerInfo & { caPem: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await startBroker({ quiet: true });
  project.provide('broker', { ...broker.toJSON(), caPem: readFileSync(broker.caPath, 'utf8') });
  return () => broker.stop();
}
