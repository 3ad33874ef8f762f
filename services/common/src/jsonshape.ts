/**
 * Limits on the shape of untrusted JSON, checked on the raw text before it is parsed or walked.
 *
 * A small document can nest thousands of levels deep (`[[[[…]]]]` is two bytes a level): any
 * recursive walk over it (validators, the U+0000 check, loggers) overflows the stack, and an
 * uncaught RangeError ends the process. No document Parley accepts comes near these limits; the
 * check is one pass over the characters, without recursion or allocation.
 */
export const JSON_LIMITS = {
  /** Deepest nesting of objects and arrays accepted in a request body or WebSocket frame. */
  maxDepth: 32,
  /** Most object keys accepted in one document, all levels together. */
  maxKeys: 2048,
} as const;

export type JsonShapeProblem = { reason: 'depth' | 'keys'; message: string };

const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const COLON = 0x3a; // :

/**
 * The first limit `text` breaks, or undefined. `text` need not be valid JSON: the parser that
 * runs after this check reports syntax errors. Colons outside strings count keys.
 */
export function checkJsonShape(
  text: string,
  limits: { maxDepth: number; maxKeys: number } = JSON_LIMITS,
): JsonShapeProblem | undefined {
  let depth = 0;
  let keys = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    switch (c) {
      case QUOTE:
        inString = true;
        break;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        if (++depth > limits.maxDepth)
          return { reason: 'depth', message: `JSON nests deeper than ${limits.maxDepth} levels` };
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        depth--;
        break;
      case COLON:
        if (++keys > limits.maxKeys)
          return { reason: 'keys', message: `JSON has more than ${limits.maxKeys} object keys` };
        break;
    }
  }
  return undefined;
}
