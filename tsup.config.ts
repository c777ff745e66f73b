import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  tsconfig: 'tsconfig.build.json',
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  // import.meta.url in the CommonJS build (src/telemetry/load.ts resolves the optional @opentelemetry/api from it).
  shims: true,
  treeshake: true,
});
