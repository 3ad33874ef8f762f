/**
 * Turns objects synthesized in helm mode (values as `__H<n>__` tokens) into Helm template text:
 * each token becomes its Helm expression, literal `{{` is escaped, free-form values become
 * `toYaml | nindent`, optional strings drop their key when empty, and a document created under a
 * condition is wrapped in `{{- if }}`.
 */
import { stringify } from 'yaml';
import { HELM_IF, TOKEN, type TokenDef } from '../../cdk8s/src/knobs.ts';

type Json = Record<string, unknown>;

const RAW = /(["']?)__RAW_(\d+)__\1/g;

/** Go template string literal. */
const goString = (s: string): string => JSON.stringify(s);

export class TemplateWriter {
  private raws: string[] = [];
  private lines: { marker: number; kind: 'block' | 'optional'; expr: string }[] = [];

  constructor(private readonly tokens: readonly TokenDef[]) {}

  /** One document as template text, with its `{{- if }}` when it has a condition. */
  document(manifest: Json): string {
    const doc = structuredClone(manifest);
    const condition = doc[HELM_IF] as string | undefined;
    delete doc[HELM_IF];
    this.raws = [];
    this.lines = [];
    const replaced = this.walk(doc);
    let text = stringify(replaced, { lineWidth: 0, indentSeq: true });
    text = text.replaceAll('{{', '{{"{{"}}');
    text = this.expandLines(text);
    text = text.replace(RAW, (_, _q: string, n: string) => this.raws[Number(n)]!);
    if (condition === undefined) return text;
    return `{{- if ${condition} }}\n${text}{{- end }}\n`;
  }

  private walk(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.walk(x));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.walk(x)]));
    }
    if (typeof v !== 'string' || !v.includes('__H')) return v;
    return this.scalar(v);
  }

  private scalar(s: string): string {
    const whole = /^__H(\d+)__$/.exec(s);
    if (whole) {
      const def = this.tokens[Number(whole[1])]!;
      switch (def.kind) {
        case 'int':
          return this.raw(`{{ ${def.expr} | int64 }}`);
        case 'bool':
          return this.raw(`{{ ${def.expr} }}`);
        case 'str':
          return this.raw(`{{ ${def.expr} | quote }}`);
        case 'block':
        case 'optional': {
          const marker = this.raws.length;
          this.raws.push('');
          this.lines.push({ marker, kind: def.kind, expr: def.expr });
          return `__RAW_${marker}__`;
        }
      }
    }
    // Tokens inside a longer string: print the pieces and quote the result.
    const parts: string[] = [];
    let last = 0;
    for (const m of s.matchAll(TOKEN)) {
      if (m.index > last) parts.push(goString(s.slice(last, m.index)));
      const def = this.tokens[Number(m[1])]!;
      if (def.kind === 'block' || def.kind === 'optional') {
        throw new Error(`a ${def.kind} value (${def.expr}) cannot be part of the string "${s}"`);
      }
      parts.push(def.kind === 'int' ? `(${def.expr} | int64)` : `(${def.expr})`);
      last = m.index + m[0].length;
    }
    if (last < s.length) parts.push(goString(s.slice(last)));
    return this.raw(`{{ print ${parts.join(' ')} | quote }}`);
  }

  private raw(text: string): string {
    this.raws.push(text);
    return `__RAW_${this.raws.length - 1}__`;
  }

  /** Block and optional values own whole lines: `key: __RAW_n__`. */
  private expandLines(text: string): string {
    const byMarker = new Map(this.lines.map((l) => [l.marker, l]));
    return text
      .split('\n')
      .map((line) => {
        const m = /^(\s*)(- )?([^\s:]+): (["']?)__RAW_(\d+)__\4$/.exec(line);
        const spec = m ? byMarker.get(Number(m[5])) : undefined;
        if (!m || !spec) return line;
        const [, indent, dash = '', key] = m;
        const column = indent!.length + dash.length;
        if (spec.kind === 'block')
          return `${indent}${dash}${key}: {{- toYaml ${spec.expr} | nindent ${column + 2} }}`;
        if (dash) throw new Error(`an optional value (${spec.expr}) cannot start a list item`);
        const pad = ' '.repeat(column);
        return `${pad}{{- with ${spec.expr} }}\n${pad}${key}: {{ . | quote }}\n${pad}{{- end }}`;
      })
      .join('\n');
  }
}
