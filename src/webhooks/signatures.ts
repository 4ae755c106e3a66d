// Incoming webhooks: which provider sent a request, whether its signature holds, and which delivery it is.
// Pure functions over headers and the raw body; the HTTP route and the delivery store live elsewhere.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookProvider = 'github' | 'gitlab' | 'gitea' | 'generic';
export type WebhookHeaders = Record<string, string | string[] | undefined>;
export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** First value of a header. Node lower-cases names; a hand-built object may not, so fall back to a scan. */
export function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  let value: unknown = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (value === undefined) {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === name) { value = headers[key]; break; }
  }
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' ? value : undefined;
}

const present = (headers: WebhookHeaders, name: string) => headerValue(headers, name) !== undefined;

export function detectProvider(headers: WebhookHeaders): WebhookProvider | null {
  // Gitea first: for compatibility it also sends X-GitHub-Event (and X-Hub-Signature-256).
  if (present(headers, 'x-gitea-event')) return 'gitea';
  if (present(headers, 'x-github-event')) return 'github';
  if (present(headers, 'x-gitlab-event')) return 'gitlab';
  if (present(headers, 'x-arcentra-signature') || present(headers, 'x-arcentra-event')) return 'generic';
  return null;
}

/** Where each HMAC provider puts its signature; `prefixed` means the value reads `sha256=<hex>`. */
const HMAC_HEADERS = {
  github: { name: 'x-hub-signature-256', label: 'X-Hub-Signature-256', prefixed: true },
  gitea: { name: 'x-gitea-signature', label: 'X-Gitea-Signature', prefixed: false },
  generic: { name: 'x-arcentra-signature', label: 'X-Arcentra-Signature', prefixed: true },
} as const;

const isBody = (body: unknown): body is Uint8Array | string => body instanceof Uint8Array || typeof body === 'string';
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

export function verifySignature(provider: WebhookProvider, headers: WebhookHeaders, rawBody: Buffer, secret: string): VerifyResult {
  // An empty key would let anyone compute a valid HMAC (or send an empty GitLab token).
  if (typeof secret !== 'string' || secret === '') return { ok: false, reason: 'no webhook secret configured' };
  if (provider === 'gitlab') {
    const token = headerValue(headers, 'x-gitlab-token');
    if (!token) return { ok: false, reason: 'missing X-Gitlab-Token header' };
    // Hashing both sides gives equal-length buffers, so the comparison leaks neither content nor length.
    return timingSafeEqual(sha256(token), sha256(secret)) ? { ok: true } : { ok: false, reason: 'token does not match' };
  }
  const spec = Object.hasOwn(HMAC_HEADERS, provider) ? HMAC_HEADERS[provider] : undefined;
  if (!spec) return { ok: false, reason: `unknown webhook provider ${JSON.stringify(String(provider)).slice(0, 40)}` };
  if (!isBody(rawBody)) return { ok: false, reason: 'raw body is not a Buffer' };
  const value = headerValue(headers, spec.name)?.trim();
  if (!value) return { ok: false, reason: `missing ${spec.label} header` };
  // The digest length is public (32 bytes), so rejecting another length early leaks nothing.
  const match = (spec.prefixed ? /^sha256=([0-9a-f]{64})$/i : /^(?:sha256=)?([0-9a-f]{64})$/i).exec(value);
  if (!match) return { ok: false, reason: `malformed signature in ${spec.label} header (expected ${spec.prefixed ? 'sha256=' : ''}<64 hex digits>)` };
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return timingSafeEqual(Buffer.from(match[1], 'hex'), expected) ? { ok: true } : { ok: false, reason: 'signature does not match' };
}

const DELIVERY_HEADERS: Record<WebhookProvider, string> = {
  github: 'x-github-delivery',
  gitlab: 'x-gitlab-event-uuid',
  gitea: 'x-gitea-delivery',
  generic: 'x-arcentra-delivery',
};

/** A header usable as a key: printable ASCII without spaces, bounded, so junk never reaches the store. */
function cleanId(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v && v.length <= 200 && /^[\x21-\x7e]+$/.test(v) ? v : undefined;
}

export function deliveryId(provider: WebhookProvider, headers: WebhookHeaders, rawBody: Buffer): string {
  const bodyHash = sha256(isBody(rawBody) ? rawBody : '').toString('hex');
  if (provider === 'gitlab') {
    // Idempotency-Key (GitLab 17.4+) stays the same across retries of one event: the best key there is.
    const key = cleanId(headerValue(headers, 'idempotency-key'));
    if (key) return key;
    // X-Gitlab-Event-UUID is shared by every hook fired from one request or job (one `git push` of two
    // branches sends two Push Hooks with the same value), so the body tells those events apart.
    const uuid = cleanId(headerValue(headers, 'x-gitlab-event-uuid')) ?? cleanId(headerValue(headers, 'x-gitlab-webhook-uuid'));
    if (uuid) return `${uuid}:${bodyHash.slice(0, 32)}`;
  } else {
    const name = Object.hasOwn(DELIVERY_HEADERS, provider) ? DELIVERY_HEADERS[provider] : undefined;
    const id = name ? cleanId(headerValue(headers, name)) : undefined;
    if (id) return id;
  }
  // No usable id: the body itself, so a replayed identical body is still handled once.
  return `sha256:${bodyHash}`;
}
