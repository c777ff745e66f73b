import { defineConfig, type Options } from 'tsup';

// src/async-dispose.ts holds only a global type declaration (for the .d.ts files); esbuild rightly
// drops its bare imports from the JavaScript (package.json says sideEffects: false): no warning.
const typesOnlyImports: NonNullable<Options['esbuildOptions']> = (options) => {
  options.logOverride = { ...options.logOverride, 'ignored-bare-import': 'silent' };
};

export default defineConfig([
  {
    // The API and its testing subpath share one chunk per format (splitting), so a delivery made
    // by the testing kit is an instance of the main entry's classes.
    entry: { index: 'src/index.ts', testing: 'src/testing/index.ts' },
    tsconfig: 'tsconfig.build.json',
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    // The command line is built by the entry below into the same directory: keep it.
    clean: ['!cli.js', '!cli.js.map'],
    target: 'node20',
    platform: 'node',
    splitting: true,
    // import.meta.url in the CommonJS build (src/telemetry/load.ts resolves the optional @opentelemetry/api from it).
    shims: true,
    treeshake: true,
    esbuildOptions: typesOnlyImports,
  },
  {
    // The `civitas-outreach` command (package.json `bin`): ESM only, not part of the API, no
    // types. The shebang of src/cli/main.ts is kept, and tsup makes the file executable.
    entry: { cli: 'src/cli/main.ts' },
    tsconfig: 'tsconfig.build.json',
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    esbuildOptions: typesOnlyImports,
  },
]);
