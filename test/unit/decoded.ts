// Unwraps a decode result in tests: the value, or the error, failing the test with what came instead.
import { isLeft, isRight, type Either } from 'fp-ts/lib/Either.js';
import type { OutreachDecodeError } from '../../src/index.js';

export function ok<A>(result: Either<OutreachDecodeError, A>): A {
  if (isLeft(result)) throw new Error(`expected a decoded outreach, got: ${result.left.message}`);
  return result.right;
}

export function fail<A>(result: Either<OutreachDecodeError, A>): OutreachDecodeError {
  if (isRight(result)) throw new Error('expected a decode error, got a value');
  return result.left;
}
