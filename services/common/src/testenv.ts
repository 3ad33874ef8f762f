/** For integration tests: the local stack's address, or a clear failure naming the script to run. */
export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v)
    throw new Error(
      `${name} is not set: run the local stack (scripts/stack/up.sh) and source scripts/stack/env.sh`,
    );
  return v;
}
