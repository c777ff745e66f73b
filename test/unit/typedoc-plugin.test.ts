// scripts/typedoc-plugin.mjs, as `npm run docs` loads it (typedoc.json): the guides' Markdown
// references to an entry point's `#Name` resolve to Name's own reflection, and `@hideInherited`
// leaves the eventemitter3 methods off OutreachConsumer's page.
import { join } from 'node:path';
import { Application, ReflectionKind, type DeclarationReflection, type ProjectReflection } from 'typedoc';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
let project: ProjectReflection;

beforeAll(async () => {
  const cwd = process.cwd();
  process.chdir(root);
  try {
    const app = await Application.bootstrapWithPlugins({ options: join(root, 'typedoc.json'), logLevel: 'Error' });
    const converted = await app.convert();
    if (converted === undefined) throw new Error('TypeDoc could not convert the project');
    project = converted;
  } finally {
    process.chdir(cwd);
  }
}, 120_000);

describe('the TypeDoc plugin', () => {
  it('resolves a guide link [OutreachConsumer.close]: ../src/index.ts#OutreachConsumer.close to that method', () => {
    const guide = project.getReflectionsByKind(ReflectionKind.Document).find((d) => d.name === 'Running in production');
    expect(guide).toBeDefined();
    const targets = (guide as unknown as { content: { kind: string; target?: unknown }[] }).content
      .filter((p) => p.kind === 'relative-link' && typeof p.target === 'number')
      .map((p) => project.files.resolve(p.target as never, project))
      .filter((r) => typeof r === 'object')
      .map((r) => (r as DeclarationReflection).getFullName());
    expect(targets).toEqual(expect.arrayContaining(['civitas-outreach.OutreachConsumer.close', 'civitas-outreach.ConsumerHealth']));
  });

  it('lists no inherited emitter member on OutreachConsumer, and keeps its own', () => {
    const consumer = project.getChildByName(['civitas-outreach', 'OutreachConsumer']) as DeclarationReflection;
    const names = (consumer.children ?? []).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['start', 'close', 'pause', 'resume', 'health']));
    for (const inherited of ['on', 'once', 'off', 'emit', 'listeners', 'removeAllListeners']) expect(names).not.toContain(inherited);
    expect(consumer.comment?.hasModifier('@hideInherited')).toBe(false);
  });
});
