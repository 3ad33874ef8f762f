/**
 * Who is notified of a message, and how: pure (no I/O, `now` passed in), so every rule is tested
 * with tables (decide.test.ts). The notifier gathers the facts (members, presence, blocks,
 * preferences, devices, open windows), asks here, then acts on the answer.
 */

/** Where a notification can go; one delivery per message (or collapse window) per class. */
export const deviceClasses = ['email', 'web', 'mobile'] as const;
export type DeviceClass = (typeof deviceClasses)[number];

export interface QuietHours {
  /** Local wall-clock start, HH:MM (24 h). */
  start: string;
  /** Local wall-clock end, HH:MM; before start means the quiet hours span midnight. */
  end: string;
  /** IANA time zone of the wall clock (e.g. Europe/Paris). */
  timeZone: string;
}

export interface NotifyPrefs {
  /** `instant`: one mail per conversation burst; `digest`: one mail per digest interval. */
  email: 'off' | 'instant' | 'digest';
  web: boolean;
  mobile: boolean;
  quietHours?: QuietHours;
  /** Muted conversations; `until` (ISO) ends the mute, absent: muted until unmuted. */
  muted: { conversationId: string; until?: string }[];
}

export const defaultPrefs: NotifyPrefs = { email: 'instant', web: true, mobile: true, muted: [] };

/** What the notifier knows of one member when a message arrives. */
export interface RecipientFacts {
  userId: string;
  /** A live socket on any pod (aggregate presence online or away). */
  online: boolean;
  /** This member blocked the sender. */
  blockedSender: boolean;
  prefs: NotifyPrefs;
  /** A verified email address is on file. */
  hasEmail: boolean;
  /** Registered push subscriptions by class. */
  devices: { web: number; mobile: number };
  /** The member's open collapse window in this conversation, if any. */
  window?: CollapseWindow;
}

export type SkipReason = 'sender' | 'online' | 'blocked' | 'muted';

/** One (user, conversation) burst: the first message notifies, the rest fold into a summary. */
export interface CollapseWindow {
  openedAt: number;
  /** Messages in the window, the first included. */
  count: number;
}

export interface Decision {
  userId: string;
  /** `open`: first message of a burst, push now; `fold`: counted into the open window's summary. */
  collapse: 'open' | 'fold';
  /** Push classes to deliver to now (empty on a fold or in quiet hours). */
  pushNow: DeviceClass[];
  /** The window after this message. */
  window: CollapseWindow;
  /** Whether the email channel will get this burst (at the window's end, or in the digest). */
  email: 'off' | 'instant' | 'digest';
  quiet: boolean;
}

export interface Plan {
  notify: Decision[];
  skipped: { userId: string; reason: SkipReason }[];
}

export function isMuted(prefs: NotifyPrefs, conversationId: string, now: number): boolean {
  return prefs.muted.some(
    (m) => m.conversationId === conversationId && (m.until === undefined || Date.parse(m.until) > now),
  );
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes since local midnight of `now` in `timeZone`. */
export function localMinutes(now: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(now));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

function minutesOf(hhmm: string): number {
  const m = HHMM.exec(hhmm);
  if (!m) throw new Error(`"${hhmm}" is not HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Whether `now` falls in the quiet hours: [start, end), spanning midnight when end < start. */
export function inQuietHours(q: QuietHours | undefined, now: number): boolean {
  if (!q) return false;
  const start = minutesOf(q.start);
  const end = minutesOf(q.end);
  if (start === end) return false;
  const t = localMinutes(now, q.timeZone);
  return start < end ? t >= start && t < end : t >= start || t < end;
}

/** Checks a quiet-hours value from a client: the text names the field at fault. */
export function quietHoursError(q: QuietHours): string | undefined {
  if (!HHMM.test(q.start)) return `quietHours.start "${q.start}" must be HH:MM (00:00-23:59)`;
  if (!HHMM.test(q.end)) return `quietHours.end "${q.end}" must be HH:MM (00:00-23:59)`;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: q.timeZone });
  } catch {
    return `quietHours.timeZone "${q.timeZone}" is not an IANA time zone`;
  }
  return undefined;
}

/** The window after one more message: a closed or absent window opens a new one. */
export function collapse(
  window: CollapseWindow | undefined,
  now: number,
  windowMs: number,
): { collapse: 'open' | 'fold'; window: CollapseWindow } {
  if (window && now - window.openedAt < windowMs)
    return { collapse: 'fold', window: { openedAt: window.openedAt, count: window.count + 1 } };
  return { collapse: 'open', window: { openedAt: now, count: 1 } };
}

/**
 * The plan for one `message.created`: never the sender, nobody online on any pod, nobody who
 * blocked the sender, nobody who muted the conversation. Everyone else gets a stored notification;
 * the first message of a burst is pushed to each enabled class with a device, later ones in the
 * window fold into one "N new messages" summary sent when the window ends. Quiet hours store and
 * count but push nothing now; the summary (or the digest mail) carries the burst afterwards.
 */
export function decide(input: {
  senderId: string;
  conversationId: string;
  recipients: readonly RecipientFacts[];
  now: number;
  windowMs: number;
}): Plan {
  const plan: Plan = { notify: [], skipped: [] };
  for (const r of input.recipients) {
    const reason: SkipReason | undefined =
      r.userId === input.senderId
        ? 'sender'
        : r.online
          ? 'online'
          : r.blockedSender
            ? 'blocked'
            : isMuted(r.prefs, input.conversationId, input.now)
              ? 'muted'
              : undefined;
    if (reason) {
      plan.skipped.push({ userId: r.userId, reason });
      continue;
    }
    const c = collapse(r.window, input.now, input.windowMs);
    const quiet = inQuietHours(r.prefs.quietHours, input.now);
    const pushNow: DeviceClass[] = [];
    if (c.collapse === 'open' && !quiet) {
      if (r.prefs.web && r.devices.web > 0) pushNow.push('web');
      if (r.prefs.mobile && r.devices.mobile > 0) pushNow.push('mobile');
    }
    plan.notify.push({
      userId: r.userId,
      collapse: c.collapse,
      pushNow,
      window: c.window,
      email: r.hasEmail ? r.prefs.email : 'off',
      quiet,
    });
  }
  return plan;
}

/** What a closed window sends: push classes get a summary only when messages folded into it. */
export interface WindowState extends CollapseWindow {
  userId: string;
  conversationId: string;
  /** Push classes the window's first message reached (a summary replaces that notification). */
  pushed: DeviceClass[];
  email: 'off' | 'instant' | 'digest';
  lastMessageId: string;
  /** The newest message's text preview (cleartext conversations only). */
  preview?: string;
  senderName?: string;
}

export interface Closing {
  /** Push classes that get "N new messages" (replacing the first push on the device). */
  summaryPush: DeviceClass[];
  /** One mail for the burst (instant), or the burst joins the user's digest, or nothing. */
  email: 'instant' | 'digest' | 'none';
  text: string;
}

/** Text of a burst: the message itself when alone, else the count. */
export function burstText(count: number, preview: string | undefined): string {
  if (count > 1) return `${count} new messages`;
  return preview ?? 'New message';
}

/**
 * What to send when a window ends. Push, to each class enabled with devices now and out of quiet
 * hours: a summary when more messages came after the first (else the first push said it all),
 * or the burst itself where the first push did not go (quiet hours then, or no device yet).
 * Email: one per burst, or into the digest.
 */
export function closeWindow(
  w: WindowState,
  now: { quiet: boolean; prefs: NotifyPrefs; devices: { web: number; mobile: number } },
): Closing {
  const summaryPush: DeviceClass[] = [];
  const wanted = (c: 'web' | 'mobile') =>
    now.prefs[c] && now.devices[c] > 0 && (w.count > 1 || !w.pushed.includes(c));
  if (!now.quiet) for (const c of ['web', 'mobile'] as const) if (wanted(c)) summaryPush.push(c);
  const email = w.email === 'off' || now.prefs.email === 'off' ? 'none' : now.quiet ? 'digest' : w.email;
  return { summaryPush, email, text: burstText(w.count, w.preview) };
}
