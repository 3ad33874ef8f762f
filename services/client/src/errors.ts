/** A problem+json answer from a Parley service, with its stable `code`. */
export class ParleyApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string | undefined,
    readonly problem: Record<string, unknown>,
  ) {
    super(`${status} ${code}${detail ? `: ${detail}` : ''}`);
    this.name = 'ParleyApiError';
  }
}

/** The ParleyApiError of a problem+json answer (its body read), or null for any other answer. */
export async function problemOf(res: Response): Promise<ParleyApiError | null> {
  if (!(res.headers.get('content-type') ?? '').startsWith('application/problem+json')) return null;
  const p = (await res.json()) as Record<string, unknown>;
  return new ParleyApiError(res.status, String(p.code ?? 'UNKNOWN'), p.detail as string | undefined, p);
}
