// TypeDoc plugin of this project (typedoc.json "plugin"). Two jobs:
//
// 1. The guides (docs/*.md, README.md) link to the API reference with plain Markdown that also
//    reads well on a code host or in node_modules:
//
//      In the API reference: [OutreachConsumer], [OutreachConsumer.close].
//
//      [OutreachConsumer]: ../src/index.ts#OutreachConsumer
//      [OutreachConsumer.close]: ../src/index.ts#OutreachConsumer.close
//
//    TypeDoc 0.28 resolves a relative link to an entry point's file (src/index.ts,
//    src/testing/index.ts) to that module's page; this plugin makes `#Name` (or `#Name.member`)
//    point at the page of that export (or member) instead. An anchor that names no export is left
//    alone, so TypeDoc's own anchor check (a warning, an error under treatWarningsAsErrors) reports it.
//
// 2. `@hideInherited` on a class leaves its inherited members off its page (OutreachConsumer: the
//    eventemitter3 methods; its doc comment says how to listen).
import { Application, Converter, ReflectionKind } from 'typedoc';

const HIDE_INHERITED = '@hideInherited';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.on(Application.EVENT_BOOTSTRAP_END, () => {
    const tags = app.options.getValue('modifierTags');
    if (!tags.includes(HIDE_INHERITED)) app.options.setValue('modifierTags', [...tags, HIDE_INHERITED]);
  });

  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const project = context.project;
    for (const cls of project.getReflectionsByKind(ReflectionKind.Class)) {
      if (!cls.comment?.hasModifier(HIDE_INHERITED)) continue;
      cls.comment.removeModifier(HIDE_INHERITED);
      for (const member of [...(cls.children ?? [])]) {
        if (member.inheritedFrom !== undefined) project.removeReflection(member);
      }
    }

    const contents = [project.readme, ...project.getReflectionsByKind(ReflectionKind.Document).map((d) => d.content)];
    for (const parts of contents) {
      for (const part of parts ?? []) {
        if (part.kind !== 'relative-link' || typeof part.target !== 'number' || !part.targetAnchor) continue;
        const module = project.files.resolve(part.target, project);
        if (typeof module !== 'object' || !module.kindOf(ReflectionKind.Module)) continue;
        const target = module.getChildByName(part.targetAnchor);
        if (target === undefined) continue;
        const path = `${project.files.resolvePath(part.target)}/${part.targetAnchor}`;
        project.files.registerReflectionPath(path, target);
        part.target = project.files.registerAbsolute(path).target;
        part.targetAnchor = undefined;
      }
    }
  });
}
