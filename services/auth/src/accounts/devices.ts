import type { Principal } from '@parley/common';
import { authProblems } from '../errors.ts';
import type { AuthStore } from '../store.ts';
import type { Sessions } from './sessions.ts';
import { sessionView } from './views.ts';

/** The signed-in devices (open sessions) a user sees and can end one by one. */
export class Devices {
  constructor(
    private readonly store: AuthStore,
    private readonly sessions: Sessions,
  ) {}

  async list(p: Principal) {
    return (await this.store.activeSessions(p.userId)).map((s) => sessionView(s, p.sessionId));
  }

  async revoke(p: Principal, sessionId: string): Promise<void> {
    const s = await this.store.sessionById(sessionId);
    // Someone else's session looks exactly like a missing one.
    if (!s || s.userId !== p.userId || s.revokedAt) throw authProblems.DEVICE_NOT_FOUND();
    await this.sessions.revoke(s, 'device revoked');
  }
}
