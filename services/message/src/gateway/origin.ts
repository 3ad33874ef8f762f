/**
 * Which browser pages may open a WebSocket (cross-site WebSocket hijacking: browsers attach
 * cookies and send no CORS preflight for upgrades, so the server must check `Origin` itself).
 * Parley authenticates sockets with a bearer token, not a cookie, so this is defence in depth.
 *
 * - No `Origin`: a native client (mobile, server, CLI); browsers always send one. Allowed.
 * - The page's origin is the server's own (the demo at `/`): allowed.
 * - Otherwise only the origins of `CORS_ORIGINS`, exactly as REST's CORS check.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[] | undefined,
): boolean {
  if (origin === undefined) return true;
  if (allowed?.includes(origin)) return true;
  if (!host) return false;
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === host.toLowerCase();
  } catch {
    return false;
  }
}
