import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The examples import the package by name, as users do; in tests that name is the source.
const byName = {
  alias: [
    { find: /^civitas-outreach\/testing$/, replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)) },
    { find: /^civitas-outreach$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  ],
};

export default defineConfig({
  test: {
    projects: [
      {
        resolve: byName,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'examples/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'pack',
          include: ['test/pack/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // One file at a time: the machine has 2 cores and the broker needs one.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'reliability',
          include: ['test/reliability/**/*.test.ts'],
          globalSetup: ['test/reliability/global-setup.ts'],
          // One file at a time: each starts its own brokers and consumer processes on 2 cores.
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
