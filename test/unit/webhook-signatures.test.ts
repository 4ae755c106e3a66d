// Webhook provider detection, signature checks (real HMACs) and delivery ids.
import { createHash, createHmac } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { deliveryId, detectProvider, headerValue, verifySignature } from '../../src/webhooks/signatures';
import type { WebhookHeaders, WebhookProvider } from '../../src/webhooks/signatures';

const SECRET = 'It\'s a Secret to Everybody';
const BODY = Buffer.from('{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}');
const hmac = (body: Buffer | string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');
const bodyHash = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');

describe('detectProvider', () => {
  it.each<[WebhookHeaders, WebhookProvider | null]>([
    [{ 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' }, 'github'],
    [{ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 't' }, 'gitlab'],
    [{ 'x-gitea-event': 'push' }, 'gitea'],
    // Gitea also sends GitHub's headers for compatibility: it must still be seen as Gitea.
    [{ 'x-gitea-event': 'push', 'x-github-event': 'push', 'x-gogs-event': 'push', 'x-hub-signature-256': 'sha256=00' }, 'gitea'],
    [{ 'x-arcentra-signature': 'sha256=00' }, 'generic'],
    [{ 'x-arcentra-event': 'push' }, 'generic'],
    [{ 'X-GitHub-Event': 'push' }, 'github'], // a hand-built object with original casing
    [{ 'x-github-event': ['push'] }, 'github'],
    [{ 'x-github-event': undefined }, null],
    [{ 'content-type': 'application/json' }, null],
    [{}, null],
  ])('%j → %s', (headers, expected) => {
    expect(detectProvider(headers)).toBe(expected);
  });

  it('tolerates non-object headers', () => {
    expect(detectProvider(null as unknown as WebhookHeaders)).toBeNull();
    expect(headerValue('x' as unknown as WebhookHeaders, 'x')).toBeUndefined();
  });
});

describe('verifySignature: HMAC providers', () => {
  const cases: Array<{ provider: WebhookProvider; header: string; label: string; format: (hex: string) => string }> = [
    { provider: 'github', header: 'x-hub-signature-256', label: 'X-Hub-Signature-256', format: (h) => `sha256=${h}` },
    { provider: 'gitea', header: 'x-gitea-signature', label: 'X-Gitea-Signature', format: (h) => h },
    { provider: 'generic', header: 'x-arcentra-signature', label: 'X-Arcentra-Signature', format: (h) => `sha256=${h}` },
  ];

  describe.each(cases)('$provider', ({ provider, header, label, format }) => {
    const verify = (value: string | string[] | undefined, body = BODY, secret = SECRET) => verifySignature(provider, { [header]: value }, body, secret);

    it('accepts a valid signature', () => {
      expect(verify(format(hmac(BODY)))).toEqual({ ok: true });
      expect(verify(format(hmac(BODY)).toUpperCase().replace('SHA256=', 'sha256='))).toEqual({ ok: true });
      expect(verify([format(hmac(BODY))])).toEqual({ ok: true });
    });

    it('verifies the exact raw bytes, including non-UTF-8 bodies', () => {
      const raw = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x7d]);
      expect(verify(format(hmac(raw)), raw)).toEqual({ ok: true });
      expect(verify(format(hmac(raw)), Buffer.from(raw.toString('utf8')))).toEqual({ ok: false, reason: 'signature does not match' });
    });

    it('rejects a signature made with another secret or over another body', () => {
      expect(verify(format(hmac(BODY, 'wrong')))).toEqual({ ok: false, reason: 'signature does not match' });
      expect(verify(format(hmac(Buffer.concat([BODY, Buffer.from(' ')]))))).toEqual({ ok: false, reason: 'signature does not match' });
      expect(verify(format('0'.repeat(64)))).toEqual({ ok: false, reason: 'signature does not match' });
    });

    it('rejects a missing header', () => {
      expect(verify(undefined)).toEqual({ ok: false, reason: `missing ${label} header` });
      expect(verify('')).toEqual({ ok: false, reason: `missing ${label} header` });
      expect(verifySignature(provider, {}, BODY, SECRET)).toEqual({ ok: false, reason: `missing ${label} header` });
    });

    it.each([
      ['not hex', 'z'.repeat(64)],
      ['too short', 'ab'.repeat(31)],
      ['too long', 'ab'.repeat(33)],
      ['odd length', 'a'.repeat(63)],
      ['sha1', hmac(BODY).slice(0, 40)],
    ])('rejects a malformed signature (%s)', (_name, hex) => {
      const result = verify(format(hex));
      expect(result.ok).toBe(false);
      expect(!result.ok && result.reason).toContain('malformed signature');
    });

    it('refuses to verify with an empty secret', () => {
      expect(verifySignature(provider, { [header]: format(hmac(BODY, '')) }, BODY, '')).toEqual({ ok: false, reason: 'no webhook secret configured' });
    });
  });

  it('requires the sha256= prefix for GitHub and generic, and tolerates it for Gitea', () => {
    const hex = hmac(BODY);
    expect(verifySignature('github', { 'x-hub-signature-256': hex }, BODY, SECRET).ok).toBe(false);
    expect(verifySignature('generic', { 'x-arcentra-signature': hex }, BODY, SECRET).ok).toBe(false);
    expect(verifySignature('github', { 'x-hub-signature-256': `sha1=${hex}` }, BODY, SECRET).ok).toBe(false);
    expect(verifySignature('gitea', { 'x-gitea-signature': `sha256=${hex}` }, BODY, SECRET)).toEqual({ ok: true });
  });

  it('ignores another provider\'s signature header', () => {
    expect(verifySignature('github', { 'x-gitea-signature': hmac(BODY) }, BODY, SECRET)).toEqual({ ok: false, reason: 'missing X-Hub-Signature-256 header' });
  });

  it('never throws on a body that is not a Buffer', () => {
    expect(verifySignature('github', { 'x-hub-signature-256': `sha256=${hmac(BODY)}` }, 42 as unknown as Buffer, SECRET)).toEqual({ ok: false, reason: 'raw body is not a Buffer' });
  });
});

describe('verifySignature: GitLab token', () => {
  const verify = (token: string | string[] | undefined, secret = SECRET) => verifySignature('gitlab', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': token }, BODY, secret);

  it('accepts the shared secret', () => {
    expect(verify(SECRET)).toEqual({ ok: true });
    expect(verify([SECRET])).toEqual({ ok: true });
  });
  it('rejects a wrong token of any length', () => {
    for (const token of ['x', SECRET.slice(0, -1), `${SECRET}x`, SECRET.toUpperCase(), 'a'.repeat(10_000)]) {
      expect(verify(token)).toEqual({ ok: false, reason: 'token does not match' });
    }
  });
  it('rejects a missing or empty token', () => {
    expect(verify(undefined)).toEqual({ ok: false, reason: 'missing X-Gitlab-Token header' });
    expect(verify('')).toEqual({ ok: false, reason: 'missing X-Gitlab-Token header' });
  });
  it('does not take an HMAC for the token', () => {
    expect(verify(hmac(BODY))).toEqual({ ok: false, reason: 'token does not match' });
  });
  it('refuses an empty secret', () => {
    expect(verify('', '')).toEqual({ ok: false, reason: 'no webhook secret configured' });
  });
});

describe('deliveryId', () => {
  it.each<[WebhookProvider, WebhookHeaders, string]>([
    ['github', { 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' }, '72d3162e-cc78-11e3-81ab-4c9367dc0958'],
    ['gitea', { 'x-gitea-delivery': 'f6266f16-1bf3-46a5-9ea4-602e06ead473' }, 'f6266f16-1bf3-46a5-9ea4-602e06ead473'],
    ['generic', { 'x-arcentra-delivery': 'build-42' }, 'build-42'],
    ['gitlab', { 'idempotency-key': 'b2eecd3a-3ac9-489b-81d6-462ec4881ea5', 'x-gitlab-event-uuid': 'e' }, 'b2eecd3a-3ac9-489b-81d6-462ec4881ea5'],
  ])('%s uses its delivery header', (provider, headers, expected) => {
    expect(deliveryId(provider, headers, BODY)).toBe(expected);
  });

  it('qualifies GitLab event UUIDs with the body, since one request can fire several events with the same UUID', () => {
    const a = deliveryId('gitlab', { 'x-gitlab-event-uuid': '1671f880-67c6-45cb-9dfa-f4707face4ba' }, BODY);
    expect(a).toBe(`1671f880-67c6-45cb-9dfa-f4707face4ba:${bodyHash(BODY).slice(0, 32)}`);
    expect(deliveryId('gitlab', { 'x-gitlab-event-uuid': '1671f880-67c6-45cb-9dfa-f4707face4ba' }, Buffer.from('{}'))).not.toBe(a);
    expect(deliveryId('gitlab', { 'x-gitlab-webhook-uuid': 'w-1' }, BODY)).toBe(`w-1:${bodyHash(BODY).slice(0, 32)}`);
  });

  it('falls back to the body hash, so an identical replay has the same id', () => {
    for (const provider of ['github', 'gitlab', 'gitea', 'generic'] as const) {
      expect(deliveryId(provider, {}, BODY)).toBe(`sha256:${bodyHash(BODY)}`);
      expect(deliveryId(provider, {}, Buffer.from(BODY))).toBe(deliveryId(provider, {}, BODY));
    }
    expect(deliveryId('github', {}, Buffer.from('{}'))).not.toBe(deliveryId('github', {}, BODY));
  });

  it('does not take another provider\'s header or an unusable value', () => {
    expect(deliveryId('github', { 'x-gitea-delivery': 'x' }, BODY)).toBe(`sha256:${bodyHash(BODY)}`);
    for (const junk of ['', '   ', 'has space', 'x'.repeat(201), 'tab\there', 'ünïcode']) {
      expect(deliveryId('github', { 'x-github-delivery': junk }, BODY)).toBe(`sha256:${bodyHash(BODY)}`);
    }
    expect(deliveryId('github', {}, undefined as unknown as Buffer)).toBe(`sha256:${bodyHash('')}`);
  });
});
