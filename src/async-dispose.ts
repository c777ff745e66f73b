// `Symbol.asyncDispose` for the declarations we ship. The consumer and the dev queue have an
// `[Symbol.asyncDispose]()` method (for `await using`); TypeScript types that symbol only with lib
// esnext.disposable or @types/node, and a user may have neither (TypeScript 7's defaults give
// neither). The same one-line declaration as lib esnext.disposable's and @types/node's, so it
// merges with either without a clash (test/pack/types.test.ts checks all three). Node.js 20.10
// has the symbol itself.
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

export {};
