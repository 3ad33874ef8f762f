import { readFileSync } from 'node:fs';

/** The text of a script under src/scripts/, shipped in a ConfigMap. */
export function script(name: string): string {
  return readFileSync(new URL(`./scripts/${name}`, import.meta.url), 'utf8');
}
