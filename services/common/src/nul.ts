/**
 * U+0000 in text. No field of Parley's API has a use for it, and PostgreSQL-backed MongoDB-compatible
 * stores (FerretDB) cannot store it: a NUL that got past validation failed the request with a 500,
 * or, in a message, was accepted, then failed every store attempt and went to the dead-letter topic.
 * Requests and frames carrying one are refused at the edge instead, and the OpenAPI document says so.
 */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';

/**
 * The dotted path of the first string (value or object key) holding U+0000, or undefined.
 * Iterative: an input nested deeper than the stack allows is walked like any other.
 */
export function findNul(value: unknown, path = ''): string | undefined {
  // Each entry: a value, its path, and whether the key that leads to it holds U+0000.
  const stack: [unknown, string, boolean][] = [[value, path, false]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [v, at, badKey] = top;
    if (badKey) return at;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return at || '(value)';
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const entries = Array.isArray(v) ? [...v.entries()] : Object.entries(v);
    // Pushed last to first, so fields are checked in document order.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!;
      stack.push([child, at ? `${at}.${k}` : String(k), typeof k === 'string' && k.includes('\u0000')]);
    }
  }
  return undefined;
}

/**
 * The JSON schema with every string constrained to hold no U+0000 (a second pattern goes under
 * `allOf` where the string already has one). Mutates and returns `schema`.
 */
export function forbidNul<T>(schema: T): T {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const s = node as Record<string, unknown>;
    const isString = s.type === 'string' || (Array.isArray(s.type) && s.type.includes('string'));
    if (isString && s.enum === undefined && s.const === undefined && s.format === undefined) {
      if (s.pattern === undefined) s.pattern = NO_NUL_PATTERN;
      else if (s.pattern !== NO_NUL_PATTERN)
        s.allOf = [...((s.allOf as unknown[]) ?? []), { pattern: NO_NUL_PATTERN }];
    }
    for (const v of Object.values(s)) visit(v);
  };
  visit(schema);
  return schema;
}
