/**
 * Parley's demo web client: plain DOM on top of @parley/client, imported as users import it. Served at `/` by the message
 * service (bundled by esbuild on first request); a browser end-to-end test drives it.
 */
import {
  ParleyApiError,
  ParleyClient,
  ParleySocket,
  newClientMsgId,
  type Conversation,
  type ConversationSummary,
  type Me,
  type Message,
  type TokenPair,
} from '@parley/client';
import { attachmentView, sendAttachment } from './attachments.ts';
import { enablePush } from './push.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const PAGE = 30;
const TOKENS = 'parley.demo.tokens';

// sessionStorage: each tab can be a different user, which is how one demos a chat.
const client = new ParleyClient({
  baseUrl: location.origin,
  tokens: (JSON.parse(sessionStorage.getItem(TOKENS) ?? 'null') as TokenPair | null) ?? undefined,
  onTokens: (t) =>
    t ? sessionStorage.setItem(TOKENS, JSON.stringify(t)) : sessionStorage.removeItem(TOKENS),
});

interface Convo {
  summary: ConversationSummary;
  detail?: Conversation;
  /** The other members' cursors, for ✓ / ✓✓ / read on my messages. */
  receipts: Map<string, { readSeq: number; deliveredSeq: number }>;
}
interface Pending {
  clientMsgId: string;
  body: string;
  failed?: boolean;
}

let me: Me | null = null;
let socket: ParleySocket | null = null;
const convos = new Map<string, Convo>();
const presence = new Map<string, string>();
let active: string | null = null;
/** The open conversation's messages by seq, and my sends not yet stored. */
let shown = new Map<number, Message>();
let pending: Pending[] = [];
const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
const typingUsers = new Map<string, string>();

// --- sign-in ---------------------------------------------------------------------------------

$('auth-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const action = ((ev as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? 'login';
  const username = $<HTMLInputElement>('username').value.trim();
  const password = $<HTMLInputElement>('password').value;
  const device = { name: 'web demo', platform: navigator.platform || 'browser' };
  const signIn =
    action === 'register'
      ? client.register({ username, password, device })
      : client.login({ login: username, password, device });
  $('auth-error').textContent = '';
  signIn.then(
    () => start(),
    (err: unknown) => ($('auth-error').textContent = describe(err)),
  );
});

$('logout').addEventListener('click', () => {
  socket?.close();
  socket = null;
  void client.logout().finally(() => location.reload());
});

async function start(): Promise<void> {
  try {
    me = await client.me();
  } catch {
    client.setTokens(null);
    return showAuth();
  }
  $('auth-view').hidden = true;
  $('chat-view').hidden = false;
  $('me').textContent = me.username;
  socket = new ParleySocket({ client });
  wire(socket);
  await loadConversations();
  void socket.connect().catch((err: unknown) => status(`offline: ${describe(err)}`));
}

function showAuth(): void {
  $('auth-view').hidden = false;
  $('chat-view').hidden = true;
  status('signed out');
}

// --- conversations ---------------------------------------------------------------------------

let loading: Promise<void> = Promise.resolve();
/** Reloads the list; calls run one after another, so the last answer is the newest. */
function loadConversations(): Promise<void> {
  loading = loading.then(fetchConversations, fetchConversations);
  return loading;
}

async function fetchConversations(): Promise<void> {
  const page = await client.listConversations({ limit: 100 });
  for (const summary of page.conversations) {
    const c = convos.get(summary.id);
    if (c) c.summary = summary;
    else convos.set(summary.id, { summary, receipts: new Map() });
    // Resume picks up from what the server says exists; history comes from REST when opened.
    socket?.setCursor(summary.id, summary.lastSeq);
  }
  await Promise.all([...convos.keys()].map((id) => loadDetail(id)));
  renderConversations();
}

async function loadDetail(id: string): Promise<void> {
  const c = convos.get(id)!;
  if (c.detail) return;
  c.detail = await client.conversation(id);
  for (const m of c.detail.members ?? [])
    if (m.userId !== me!.id) c.receipts.set(m.userId, { readSeq: m.readSeq, deliveredSeq: m.readSeq });
  const p = await client.presence(id).catch(() => null);
  for (const m of p?.members ?? []) presence.set(m.userId, m.status);
}

function titleOf(c: Convo): string {
  if (c.summary.type === 'group') return c.summary.title ?? 'group';
  const other = c.detail?.members?.find((m) => m.userId !== me!.id);
  return other?.username ?? 'direct chat';
}

function otherUserId(c: Convo): string | undefined {
  return c.summary.type === 'direct'
    ? c.detail?.members?.find((m) => m.userId !== me!.id)?.userId
    : undefined;
}

function presenceDot(userId: string | undefined): HTMLElement {
  const status = (userId && presence.get(userId)) || 'offline';
  const dot = el('span', `dot ${status}`);
  dot.title = status;
  dot.dataset.status = status;
  return dot;
}

function renderConversations(): void {
  const list = $('conversations');
  const items = [...convos.values()].sort((a, b) =>
    (b.summary.lastMessageAt ?? b.summary.updatedAt).localeCompare(
      a.summary.lastMessageAt ?? a.summary.updatedAt,
    ),
  );
  list.replaceChildren(
    ...items.map((c) => {
      const li = el('li', c.summary.id === active ? 'active' : '');
      li.dataset.id = c.summary.id;
      li.append(
        c.summary.type === 'direct' ? presenceDot(otherUserId(c)) : el('span', 'dot group'),
        el('span', 'name', titleOf(c)),
      );
      if (c.summary.unreadCount > 0) li.append(el('span', 'unread', String(c.summary.unreadCount)));
      li.addEventListener('click', () => void open(c.summary.id));
      return li;
    }),
  );
  if (active) renderHeader();
}

async function createAndOpen(input: Parameters<ParleyClient['createConversation']>[0]): Promise<void> {
  $('sidebar-error').textContent = '';
  try {
    const conv = await client.createConversation(input);
    await loadConversations();
    await open(conv.id);
  } catch (err) {
    $('sidebar-error').textContent = describe(err);
  }
}

$('new-direct').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $<HTMLInputElement>('direct-username');
  void createAndOpen({ type: 'direct', members: [input.value.trim()] }).then(() => (input.value = ''));
});

$('new-group').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const members = $<HTMLInputElement>('group-members')
    .value.split(/[\s,]+/)
    .filter(Boolean);
  void createAndOpen({ type: 'group', title: $<HTMLInputElement>('group-title').value.trim(), members });
});

// --- one conversation ------------------------------------------------------------------------

async function open(id: string): Promise<void> {
  active = id;
  shown = new Map();
  pending = [];
  typingUsers.clear();
  await loadDetail(id);
  const page = await client.latestMessages(id, PAGE);
  for (const m of page.messages) shown.set(m.seq, m);
  $('load-older').hidden = !page.prevCursor;
  $('composer').hidden = false;
  renderConversations();
  renderMessages(true);
  markRead();
  $('message-input').focus();
}

$('load-older').addEventListener('click', () => {
  const id = active;
  const oldest = Math.min(...shown.keys());
  if (!id || !Number.isFinite(oldest)) return;
  void client.listMessages(id, { before: oldest, limit: PAGE }).then((page) => {
    if (active !== id) return;
    for (const m of page.messages) shown.set(m.seq, m);
    $('load-older').hidden = !page.prevCursor;
    renderMessages(false);
  });
});

function renderHeader(): void {
  const c = convos.get(active!)!;
  const h = $('conv-title');
  h.replaceChildren(
    ...(c.summary.type === 'direct' ? [presenceDot(otherUserId(c))] : []),
    el('span', 'title', titleOf(c)),
    ...(c.summary.accepted ? [] : [acceptButton(c)]),
  );
}

/** A conversation someone else started is a request: accepting it shares your presence there. */
function acceptButton(c: Convo): HTMLElement {
  const button = el('button', 'accept', 'Accept');
  button.id = 'accept-request';
  button.title = 'Share your presence with this conversation';
  button.addEventListener('click', () => {
    void client.acceptConversation(c.summary.id).then((conv) => {
      c.summary = { ...c.summary, accepted: conv.accepted };
      renderHeader();
    });
  });
  return button;
}

function receiptOf(c: Convo, m: Message): 'sent' | 'delivered' | 'read' {
  const others = [...c.receipts.values()];
  if (others.length === 0) return m.status ?? 'sent';
  const fromServer = m.status === 'read' ? 2 : m.status === 'delivered' ? 1 : 0;
  const read = others.every((r) => r.readSeq >= m.seq) ? 2 : 0;
  const delivered = others.every((r) => Math.max(r.deliveredSeq, r.readSeq) >= m.seq) ? 1 : 0;
  return (['sent', 'delivered', 'read'] as const)[Math.max(fromServer, read, delivered)]!;
}

const receiptMarks = { sent: '✓', delivered: '✓✓', read: '✓✓ read' };

function renderMessages(scrollToEnd: boolean): void {
  const c = convos.get(active!)!;
  const names = new Map((c.detail?.members ?? []).map((m) => [m.userId, m.username]));
  const list = $('messages');
  const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  const items = [...shown.values()]
    .sort((a, b) => a.seq - b.seq)
    .map((m) => {
      const mine = m.senderId === me!.id;
      const li = el('li', mine ? 'mine' : '');
      li.dataset.seq = String(m.seq);
      if (!mine && c.summary.type === 'group')
        li.append(el('strong', 'sender', `${names.get(m.senderId) ?? '?'}: `));
      li.append(el('span', 'body', m.deleted ? '(deleted)' : (m.body ?? '(encrypted)')));
      if (!m.deleted) for (const id of m.attachments ?? []) li.append(attachmentView(client, id));
      if (mine) {
        const r = receiptOf(c, m);
        const mark = el('span', `meta receipt ${r}`, receiptMarks[r]);
        mark.dataset.receipt = r;
        li.append(mark);
      }
      return li;
    });
  for (const p of pending) {
    const li = el('li', 'mine pending');
    li.append(el('span', 'body', p.body), el('span', 'meta receipt', p.failed ? 'not sent' : '…'));
    items.push(li);
  }
  list.replaceChildren(...items);
  if (scrollToEnd || atEnd) list.scrollTop = list.scrollHeight;
}

function renderTyping(): void {
  const names = [...typingUsers.values()];
  $('typing').textContent = names.length
    ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…`
    : '';
}

/** Marks the open conversation read up to its newest message (when the page is visible). */
function markRead(): void {
  const c = active ? convos.get(active) : undefined;
  const top = Math.max(0, ...shown.keys());
  if (!c || top === 0 || document.visibilityState !== 'visible') return;
  c.summary.unreadCount = 0;
  renderConversations();
  const done = socket?.state === 'open' ? socket.read(c.summary.id, top) : client.markRead(c.summary.id, top);
  done.catch(() => undefined);
}
document.addEventListener('visibilitychange', () => {
  markRead();
  socket?.setPresence(document.visibilityState === 'visible' ? 'online' : 'away');
});

const input = $<HTMLInputElement>('message-input');
input.addEventListener('input', () => {
  if (active && input.value) socket?.typing(active, 'started');
});

$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const body = input.value.trim();
  const id = active;
  if (!body || !id || !socket) return;
  input.value = '';
  socket.typing(id, 'stopped');
  const p: Pending = { clientMsgId: newClientMsgId(), body };
  pending.push(p);
  renderMessages(true);
  socket.send(id, { body, clientMsgId: p.clientMsgId }).catch((err: unknown) => {
    p.failed = true;
    status(describe(err));
    if (active === id) renderMessages(false);
  });
});

$('attach').addEventListener('change', () => {
  const picker = $<HTMLInputElement>('attach');
  const file = picker.files?.[0];
  const id = active;
  picker.value = '';
  if (!file || !id) return;
  const body = input.value.trim() || file.name;
  input.value = '';
  const p: Pending = { clientMsgId: newClientMsgId(), body };
  pending.push(p);
  renderMessages(true);
  sendAttachment(client, id, file, body, p.clientMsgId).catch((err: unknown) => {
    p.failed = true;
    status(describe(err));
    if (active === id) renderMessages(false);
  });
});

$('push-enable').addEventListener('click', () => void enablePush(client));

// --- real time -------------------------------------------------------------------------------

function wire(s: ParleySocket): void {
  s.on('state', (state, d) =>
    status(
      state === 'waiting'
        ? `reconnecting in ${Math.round((d.delayMs ?? 0) / 100) / 10} s (closed ${d.code ?? '?'})`
        : state === 'open'
          ? 'connected'
          : state,
    ),
  );
  s.on('ready', () => s.setPresence(document.visibilityState === 'visible' ? 'online' : 'away'));
  s.on('message', (m) => void onMessage(m));
  s.on('event', (e) => {
    const c = convos.get(e.conversationId);
    if (e.type === 'receipt.updated' && c && e.data.userId !== me!.id) {
      c.receipts.set(e.data.userId, { readSeq: e.data.readSeq, deliveredSeq: e.data.deliveredSeq });
      if (active === e.conversationId) renderMessages(false);
    } else if (e.type === 'message.edited' || e.type === 'message.deleted') {
      const m =
        e.type === 'message.edited' ? e.data.message : { ...shown.get(e.data.seq)!, deleted: true as const };
      if (active === e.conversationId && shown.has(m.seq)) {
        shown.set(m.seq, m);
        renderMessages(false);
      }
    } else if (
      !c ||
      e.type === 'member.added' ||
      e.type === 'member.removed' ||
      e.type === 'conversation.updated'
    ) {
      if (c) c.detail = undefined;
      void loadConversations();
    }
  });
  s.on('typing', (t) => {
    if (t.userId === me!.id || t.conversationId !== active) return;
    clearTimeout(typingTimers.get(t.userId));
    if (t.state === 'started') {
      const name = convos
        .get(t.conversationId)
        ?.detail?.members?.find((m) => m.userId === t.userId)?.username;
      typingUsers.set(t.userId, name ?? 'someone');
      // A lost "stopped" must not leave the indicator on for ever.
      typingTimers.set(
        t.userId,
        setTimeout(() => {
          typingUsers.delete(t.userId);
          renderTyping();
        }, 6_000),
      );
    } else typingUsers.delete(t.userId);
    renderTyping();
  });
  s.on('presence', (p) => {
    presence.set(p.userId, p.status);
    renderConversations();
  });
  s.on('error', (e) => console.warn('parley:', e));
}

async function onMessage(m: Message): Promise<void> {
  const mine = m.senderId === me!.id;
  let c = convos.get(m.conversationId);
  if (!c) {
    // A conversation someone just started: its summary (unread count included) comes from REST.
    await loadConversations();
    c = convos.get(m.conversationId);
    if (c && !mine && active !== m.conversationId)
      socket?.delivered(m.conversationId, m.seq).catch(() => undefined);
    return;
  }
  c.summary.lastSeq = Math.max(c.summary.lastSeq, m.seq);
  c.summary.lastMessageAt = m.createdAt;
  typingUsers.delete(m.senderId);
  if (active === m.conversationId) {
    shown.set(m.seq, m);
    if (mine) pending = pending.filter((p) => p.clientMsgId !== m.clientMsgId);
    renderMessages(false);
    renderTyping();
    if (!mine) markRead();
  } else if (!mine) {
    c.summary.unreadCount++;
    socket?.delivered(m.conversationId, m.seq).catch(() => undefined);
  }
  renderConversations();
}

// --- misc ------------------------------------------------------------------------------------

function status(text: string): void {
  $('status').textContent = text;
}

function describe(err: unknown): string {
  if (err instanceof ParleyApiError) return err.detail ?? err.code;
  return err instanceof Error ? err.message : String(err);
}

if (client.tokens) void start();
else showAuth();
