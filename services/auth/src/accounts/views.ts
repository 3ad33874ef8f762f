import type { Session, User } from '../store.ts';

/** The public view of a user: what the owner sees. */
export function ownView(u: User) {
  return {
    id: u._id,
    username: u.username,
    displayName: u.displayName,
    ...(u.email ? { email: u.email } : {}),
    ...(u.phone ? { phone: u.phone } : {}),
    ...(u.pendingEmail ? { pendingEmail: u.pendingEmail } : {}),
    ...(u.pendingPhone ? { pendingPhone: u.pendingPhone } : {}),
    roles: u.roles,
    status: u.status,
    hasPassword: u.passwordHash !== undefined,
    githubLinked: u.githubId !== undefined,
    createdAt: u.createdAt,
  };
}

/** What anyone signed in may see of another user. */
export function publicView(u: User) {
  return { id: u._id, username: u.username, displayName: u.displayName, status: u.status };
}

export function sessionView(s: Session, currentSessionId?: string) {
  return {
    id: s._id,
    name: s.device.name,
    platform: s.device.platform,
    ip: s.ip,
    userAgent: s.userAgent,
    createdAt: s.createdAt,
    lastSeenAt: s.lastSeenAt,
    current: s._id === currentSessionId,
  };
}
