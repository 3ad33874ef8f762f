import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Replaces what stands between two markers in README.md with generated text; with `--check` on
 * the command line, exits 1 instead when README.md differs (CI fails on stale docs).
 */
export function writeReadmeSection(opts: {
  begin: string;
  end: string;
  generated: string;
  /** What the section is, for messages ("configuration reference"). */
  what: string;
  /** The npm script that regenerates it. */
  command: string;
}): void {
  const readme = new URL('../README.md', import.meta.url);
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(opts.begin);
  const end = text.indexOf(opts.end);
  if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${opts.begin} … ${opts.end}`);
  const next = text.slice(0, start + opts.begin.length) + '\n\n' + opts.generated + '\n\n' + text.slice(end);
  if (process.argv.includes('--check')) {
    if (next !== text) {
      console.error(`README.md ${opts.what} is stale: run \`${opts.command}\` and commit.`);
      process.exit(1);
    }
    console.log(`README.md ${opts.what} is up to date`);
  } else {
    writeFileSync(readme, next);
    console.log(`README.md ${opts.what} written`);
  }
}
