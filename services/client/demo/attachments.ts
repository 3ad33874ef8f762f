/**
 * Attachments in the demo: a picked image is uploaded (POST /v1/media) and sent with a message;
 * messages show each attachment's thumbnail variant, and a click opens the full image. The bytes
 * are fetched with the access token (an <img> cannot send one) and shown through blob: URLs.
 */
import type { Attachment, ParleyClient } from '@parley/client';

interface Loaded {
  meta: Attachment;
  thumbUrl?: string;
}

/** One fetch per attachment however often the list re-renders. */
const loaded = new Map<string, Promise<Loaded>>();

function load(client: ParleyClient, id: string): Promise<Loaded> {
  let hit = loaded.get(id);
  if (!hit) {
    hit = (async () => {
      const meta = await client.media.get(id);
      if (!meta.variants.includes('thumbnail')) return { meta };
      return {
        meta,
        thumbUrl: URL.createObjectURL(await (await client.media.download(id, 'thumbnail')).blob()),
      };
    })();
    loaded.set(id, hit);
    hit.catch(() => loaded.delete(id));
  }
  return hit;
}

/** A message's attachment: its thumbnail (images) or its name, opening the full file on click. */
export function attachmentView(client: ParleyClient, id: string): HTMLElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'attachment';
  button.dataset.id = id;
  button.textContent = '📎 …';
  void load(client, id).then(
    ({ meta, thumbUrl }) => {
      button.title = meta.filename;
      if (!thumbUrl) return void (button.textContent = `📎 ${meta.filename}`);
      const img = document.createElement('img');
      img.className = 'thumb';
      img.alt = meta.filename;
      img.src = thumbUrl;
      button.replaceChildren(img);
    },
    () => (button.textContent = '📎 (unavailable)'),
  );
  button.addEventListener('click', () => void openFull(client, id));
  return button;
}

/** Shows the original in the viewer (images), or saves it (other files). */
async function openFull(client: ParleyClient, id: string): Promise<void> {
  const { meta } = await load(client, id);
  const url = URL.createObjectURL(await (await client.media.download(id, 'original')).blob());
  if (!meta.contentType.startsWith('image/')) {
    const a = document.createElement('a');
    a.href = url;
    a.download = meta.filename;
    a.click();
    return;
  }
  const viewer = document.getElementById('viewer') as HTMLDialogElement;
  const img = document.getElementById('viewer-img') as HTMLImageElement;
  const old = img.src;
  img.alt = meta.filename;
  img.dataset.id = id;
  img.src = url;
  if (old.startsWith('blob:')) URL.revokeObjectURL(old);
  if (!viewer.open) viewer.showModal();
}

document
  .getElementById('viewer-close')
  ?.addEventListener('click', () => (document.getElementById('viewer') as HTMLDialogElement).close());

/** Uploads the picked file to the conversation and sends it with `text` (or its name). */
export async function sendAttachment(
  client: ParleyClient,
  conversationId: string,
  file: File,
  text: string,
  clientMsgId: string,
): Promise<void> {
  const a = await client.media.upload({ conversationId, file, filename: file.name });
  await client.sendMessage(conversationId, { clientMsgId, body: text || file.name, attachments: [a.id] });
}
