import { q, type Logger } from '@parley/common';
import { verifiedEmailOf, type MessageStore } from '../domain/store.ts';
import { closeWindow, inQuietHours } from './decide.ts';
import type { Deliverer } from './deliver.ts';
import type { NotifyMetrics } from './metrics.ts';
import type { NotificationStore, WindowDoc } from './store.ts';

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** One mail: each line a conversation's news, with the unsubscribe link in text and HTML. */
export function renderMail(
  lines: { title: string; text: string }[],
  links: { app: string; unsubscribe: string },
) {
  const subject =
    lines.length === 1
      ? `${lines[0]!.title}: ${lines[0]!.text}`.slice(0, 120)
      : `News in ${lines.length} conversations`;
  const text = [
    ...lines.map((l) => `${l.title}: ${l.text}`),
    '',
    `Open Parley: ${links.app}`,
    `Stop these mails: ${links.unsubscribe}`,
  ].join('\n');
  const html = [
    '<ul>',
    ...lines.map((l) => `<li><strong>${esc(l.title)}</strong>: ${esc(l.text)}</li>`),
    '</ul>',
    `<p><a href="${esc(links.app)}">Open Parley</a></p>`,
    `<p style="font-size:small"><a href="${esc(links.unsubscribe)}">Stop these mails</a></p>`,
  ].join('\n');
  return { subject, text, html, unsubscribeUrl: links.unsubscribe };
}

/**
 * Closes collapse windows whose time is up (summary push, one mail or a digest entry) and sends
 * digests that are due. A window the user has read up to meanwhile sends nothing: they saw it.
 */
export class Sweeper {
  constructor(
    private readonly d: {
      store: NotificationStore;
      messages: MessageStore;
      deliverer: Deliverer;
      digestMs: number;
      links: (userId: string) => { app: string; unsubscribe: string };
      logger: Logger;
      metrics: NotifyMetrics;
      now?: () => number;
    },
  ) {}

  async sweep(): Promise<void> {
    const now = (this.d.now ?? Date.now)();
    const due = await this.d.store.windows.find(
      { closesAt: q.lte(now) },
      { sort: [['closesAt', 1]], limit: 500 },
    );
    for (const w of due) await this.close(w, now);
    await this.digests(now);
  }

  private async close(w: WindowDoc, now: number): Promise<void> {
    const { store, messages, deliverer } = this.d;
    const [member, prefs, subs, users] = await Promise.all([
      messages.membership(w.conversationId, w.userId),
      store.prefsOf(w.userId),
      store.subscriptionsOf([w.userId]),
      messages.usersById([w.userId]),
    ]);
    const read = member !== null && member.readSeq >= w.lastSeq;
    if (member && !read) {
      const devices = {
        web: subs.filter((s) => s.class === 'web').length,
        mobile: subs.filter((s) => s.class === 'mobile').length,
      };
      const c = closeWindow(w, { quiet: inQuietHours(prefs.quietHours, now), prefs, devices });
      const key = `${w._id}:${w.openedAt}`;
      const title = w.count > 1 ? 'Parley' : (w.senderName ?? 'Parley');
      for (const cls of c.summaryPush)
        await deliverer.push(`${key}:summary:${cls}`, w.userId, cls as 'web' | 'mobile', subs, {
          idempotencyKey: '',
          collapseKey: `conv:${w.conversationId}`,
          title,
          body: c.text,
          conversationId: w.conversationId,
          count: w.count,
        });
      const email = verifiedEmailOf(users.get(w.userId));
      const line = { title: w.senderName ?? 'Parley', text: c.text };
      if (c.email === 'instant' && email)
        await deliverer.mail(`${key}:mail`, w.userId, {
          to: email,
          ...renderMail([line], this.d.links(w.userId)),
        });
      if (c.email === 'digest')
        await messages.insertIfAbsent(store.digests, {
          _id: key,
          userId: w.userId,
          conversationId: w.conversationId,
          count: w.count,
          title: line.title,
          text: c.text,
          at: now,
        });
    }
    // Only this window: a message that reopened it meanwhile keeps its new one.
    await store.windows.deleteMany({ _id: w._id, openedAt: w.openedAt });
    this.d.metrics.summaries.inc();
  }

  /** Users whose oldest digest entry waited the digest interval get one mail with all of theirs. */
  private async digests(now: number): Promise<void> {
    const { store, messages, deliverer } = this.d;
    const oldest = await store.digests.find({ at: q.lte(now - this.d.digestMs) }, { limit: 500 });
    for (const userId of new Set(oldest.map((e) => e.userId))) {
      const entries = await store.digests.find({ userId }, { sort: [['at', 1]], limit: 1000 });
      const email = verifiedEmailOf((await messages.usersById([userId])).get(userId));
      if (email && entries.length) {
        const lines = entries.map((e) => ({ title: e.title, text: e.text }));
        await deliverer.mail(`digest:${userId}:${entries[0]!._id}`, userId, {
          to: email,
          ...renderMail(lines, this.d.links(userId)),
        });
      }
      await store.digests.deleteMany({ _id: q.in(entries.map((e) => e._id)) });
    }
  }
}
