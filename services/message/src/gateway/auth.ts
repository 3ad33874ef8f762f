import { ProblemError, type Principal } from '@parley/common';
import type { Connection } from './connection.ts';
import type { GatewayContext } from './context.ts';
import type { PresenceFeed } from './presence.ts';

/**
 * Authentication on the socket: the first token (subprotocol or `auth` frame) admits it, a later
 * `auth` frame refreshes it (same user and session), and expiry is watched: `token.expiring`
 * ahead of time, then a close.
 */
export class SocketAuth {
  constructor(
    private readonly ctx: GatewayContext,
    private readonly feed: PresenceFeed,
    /** Called once a socket is admitted (it leaves the unauthenticated pool). */
    private readonly admitted: () => void,
  ) {}

  async authenticate(conn: Connection, token: string, id: string | undefined): Promise<void> {
    const { metrics, opts } = this.ctx;
    const refresh = conn.principal !== undefined;
    let p: Principal;
    conn.authenticating = !refresh;
    try {
      p = await this.ctx.authenticate(token);
    } catch (err) {
      conn.authenticating = false;
      if (!(err instanceof ProblemError)) throw err;
      const detail = err.detail ?? '';
      if (refresh) return conn.sendError(id, 'UNAUTHENTICATED', detail || 'invalid access token');
      if (/expired/.test(detail)) {
        metrics.authFailures.labels('expired').inc();
        return conn.close('TOKEN_EXPIRED', 'access token expired');
      }
      if (/revoked|blocked/.test(detail)) {
        metrics.authFailures.labels('revoked').inc();
        return conn.close('SESSION_REVOKED', 'session revoked');
      }
      metrics.authFailures.labels(err.code === 'UNAVAILABLE' ? 'unavailable' : 'invalid').inc();
      if (err.code === 'UNAVAILABLE') return conn.close('TRY_AGAIN_LATER', 'authentication unavailable');
      return conn.close('UNAUTHENTICATED', 'invalid access token');
    }
    if (conn.closing) return;
    if (refresh) {
      if (p.userId !== conn.userId || p.sessionId !== conn.principal!.sessionId)
        return conn.sendError(id, 'TOKEN_MISMATCH', 'the token belongs to another user or session');
      conn.principal = p;
      setExpiry(conn, p.expiresAt);
      return conn.send({ type: 'ack', ...(id ? { id } : {}), for: 'auth', tokenExpiresAt: p.expiresAt });
    }
    const { presence, hub } = this.ctx;
    const live = await presence.set(p.userId, conn.id, 'online');
    if (conn.closing) {
      await presence.remove(p.userId, [conn.id]);
      return;
    }
    if (live.live > opts.maxConnectionsPerUser) {
      await presence.remove(p.userId, [conn.id]);
      metrics.authFailures.labels('too_many').inc();
      conn.authenticating = false;
      return conn.close('TOO_MANY_CONNECTIONS', `at most ${opts.maxConnectionsPerUser} sockets per user`);
    }
    let memberships: Iterable<string>;
    try {
      memberships = await this.ctx.chat.views.memberships(p.userId);
    } catch (err) {
      // Not admitted, so the close will not remove it: its presence must go now.
      await presence.remove(p.userId, [conn.id]).catch(() => {});
      throw err;
    }
    conn.principal = p;
    conn.userId = p.userId;
    setExpiry(conn, p.expiresAt);
    this.admitted();
    for (const c of memberships) conn.conversations.add(c);
    await hub.add(conn);
    conn.authenticating = false;
    // Closed while subscribing: onClose already ran and could not undo what came after it.
    if (conn.closing) return hub.remove(conn);
    conn.send({
      type: 'ready',
      ...(id ? { id } : {}),
      connectionId: conn.id,
      userId: p.userId,
      sessionId: p.sessionId,
      heartbeatMs: opts.heartbeatMs,
      tokenExpiresAt: p.expiresAt,
      limits: {
        maxFrameBytes: opts.maxFrameBytes,
        maxBufferedBytes: opts.maxBufferedBytes,
        framesPerSecond: opts.framesPerSecond,
        frameBurst: opts.frameBurst,
      },
    });
    await this.feed.announce(p.userId, live);
  }

  /** Closes sockets that never authenticated in time or whose token expired; warns ahead of expiry. */
  checkDeadlines(connections: Iterable<Connection>): void {
    const now = Date.now();
    const { authTimeoutMs } = this.ctx.opts;
    for (const conn of connections) {
      if (conn.closing) continue;
      if (!conn.principal) {
        if (!conn.authenticating && now - conn.openedAt > authTimeoutMs) {
          this.ctx.metrics.authFailures.labels('timeout').inc();
          conn.close('UNAUTHENTICATED', 'no auth frame in time');
        }
        continue;
      }
      if (now >= conn.tokenExp) {
        conn.close('TOKEN_EXPIRED', 'access token expired; refresh and reconnect');
      } else if (!conn.expiringSent && now >= conn.expiringAt) {
        conn.expiringSent = true;
        conn.send({ type: 'token.expiring', expiresAt: conn.tokenExp });
      }
    }
  }
}

function setExpiry(conn: Connection, expiresAt: number): void {
  conn.tokenExp = expiresAt;
  conn.expiringAt = expiresAt - Math.min(60_000, Math.max(0, expiresAt - Date.now()) / 2);
  conn.expiringSent = false;
}
