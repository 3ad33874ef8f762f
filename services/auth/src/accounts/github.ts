import type { GithubIdentity } from '../github/oauth.ts';
import { authProblems } from '../errors.ts';
import type { User } from '../store.ts';
import type { TokenPair } from '../tokens.ts';
import type { AccountsDeps, ClientContext } from './context.ts';
import type { Sessions } from './sessions.ts';
import type { Users } from './users.ts';

/** Accounts behind a GitHub identity (the OAuth flow itself is in ../github/). */
export class GithubAccounts {
  constructor(
    private readonly d: AccountsDeps,
    private readonly users: Users,
    private readonly sessions: Sessions,
  ) {}

  /** Finds or creates the account linked to a GitHub identity. Never links by email: ours are unverified. */
  login(
    gh: GithubIdentity,
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair; created: boolean }> {
    return this.sessions.counted('github', () => this.githubAccount(gh, client));
  }

  private async githubAccount(
    gh: GithubIdentity,
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair; created: boolean }> {
    let user = await this.d.store.userByGithubId(gh.id);
    let created = false;
    if (!user) {
      const emailFree = gh.email ? !(await this.d.store.userByEmail(gh.email)) : false;
      const username = await this.users.freeUsername(usernameBase(gh.login));
      let displayName = (gh.name ?? gh.login).slice(0, 64);
      displayName = await this.users.checkDisplayName(displayName, username).then(
        () => displayName,
        () => username,
      );
      user = await this.users.create('github', {
        username,
        displayName,
        githubId: gh.id,
        ...(gh.email && emailFree ? { email: gh.email.toLowerCase() } : {}),
      });
      created = true;
    }
    if (user.status === 'blocked') throw authProblems.ACCOUNT_BLOCKED(user.blockedReason);
    return { user, tokens: await this.sessions.open(user, client), created };
  }
}

/** A GitHub login as a username of ours: lower case, our alphabet, 3 to 28 characters. */
export function usernameBase(login: string): string {
  return login
    .toLowerCase()
    .replace(/[^a-z0-9_.]/g, '_')
    .slice(0, 28)
    .padEnd(3, '_');
}
