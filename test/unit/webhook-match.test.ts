// Glob semantics, trigger filters, and a seeded fuzz of the whole webhook path (detect → verify → id → normalize → match).
import { createHmac } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { globMatch, globToRegExp, matchTrigger } from '../../src/webhooks/match';
import { normalizeEvent } from '../../src/webhooks/normalize';
import type { NormalizedEvent } from '../../src/webhooks/normalize';
import { deliveryId, detectProvider, verifySignature } from '../../src/webhooks/signatures';
import type { WebhookHeaders, WebhookProvider } from '../../src/webhooks/signatures';
import type { CompiledTrigger } from '../../src/spec/model';
import { prng } from '../support/prng';

describe('globToRegExp', () => {
  it.each<[string, string, boolean]>([
    ['docs/**', 'docs/a/b.md', true],
    ['docs/**', 'docs/a.md', true],
    ['docs/**', 'docs', true],
    ['docs/**', 'docsx/a.md', false],
    ['docs/**', 'src/docs/a.md', false],
    ['**/*.md', 'a.md', true],
    ['**/*.md', 'x/y/a.md', true],
    ['**/*.md', 'x/y/a.mdx', false],
    ['**/*.md', '.github/README.md', true],
    ['**', 'anything/at/all', true],
    ['**/**', 'a', true],
    ['*', 'a.md', true],
    ['*', 'a/b.md', false],
    ['*', '.env', true],
    ['src/*.ts', 'src/a.ts', true],
    ['src/*.ts', 'src/a/b.ts', false],
    ['src/*.ts', 'src/.ts', true],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/xb', false],
    ['a/**/b/**', 'a/q/b/c/d', true],
    ['a**b', 'axyb', true],
    ['a**b', 'ax/yb', false],
    ['release/*', 'release/1.0', true],
    ['release/*', 'release/1.0/hotfix', false],
    ['release/*', 'release', false],
    ['v?.?', 'v1.2', true],
    ['v?.?', 'v1/2', false],
    ['v?.?', 'v12.3', false],
    ['file.ts', 'fileXts', false],
    ['a+b(c)|[d]{2}$^', 'a+b(c)|[d]{2}$^', true],
    ['[abc]', 'a', false],
    ['{a,b}', '{a,b}', true],
    ['{a,b}', 'a', false],
    ['\\*', '\\x', true],
    ['', '', true],
    ['', 'a', false],
    ['**', 'file\nwith-newline', true],
    ['src/**', 'src/a\nb/c', true],
  ])('%j on %j → %s', (glob, path, expected) => {
    expect(globToRegExp(glob).test(path)).toBe(expected);
    expect(globMatch(glob, path)).toBe(expected);
  });

  it('globMatch agrees with globToRegExp on random globs and paths', () => {
    const rnd = prng(11);
    const word = (alphabet: string, max: number) => Array.from({ length: Math.floor(rnd() * max) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    for (let i = 0; i < 20_000; i++) {
      const glob = rnd() < 0.3 ? word('ab', 3).split('').join('/**/') : word('ab*?/', 9);
      const path = word('ab/', 8);
      expect(globMatch(glob, path), `${glob} on ${path}`).toBe(globToRegExp(glob).test(path));
    }
  });

  it('globMatch stays fast where a backtracking regex would not', () => {
    const started = performance.now();
    expect(globMatch('*a*a*a*a*b', 'a'.repeat(4000))).toBe(false);
    expect(globMatch('**/a/**/a/**/a/**/b', 'a/'.repeat(2000))).toBe(false);
    expect(matchTrigger(ev({ changedPaths: ['a'.repeat(4000)] }), { paths: ['*a*a*a*a*b'] })).toMatchObject({ matched: false });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

const ev = (over: Partial<NormalizedEvent> = {}): NormalizedEvent => ({
  event: 'push', ref: 'refs/heads/main', branch: 'main', tag: null, commitSha: null, actor: null, repo: null, changedPaths: [], ...over,
});
const tagEv = ev({ event: 'tag', ref: 'refs/tags/v1', branch: null, tag: 'v1' });
const prEv = ev({ event: 'pull_request', ref: 'refs/pull/1/head', branch: 'feature/x' });

describe('matchTrigger', () => {
  it('matches everything without filters', () => {
    for (const e of [ev(), tagEv, prEv]) {
      expect(matchTrigger(e, {})).toEqual({ matched: true });
      expect(matchTrigger(e)).toEqual({ matched: true });
      expect(matchTrigger(e, { events: [], branches: [], paths: [] })).toEqual({ matched: true });
    }
  });

  it('events', () => {
    expect(matchTrigger(tagEv, { events: ['push'] })).toEqual({ matched: false, reason: 'event "tag" is not in events [push]' });
    expect(matchTrigger(tagEv, { events: ['push', 'tag'] })).toEqual({ matched: true });
    expect(matchTrigger(prEv, { events: ['push', 'tag'] })).toEqual({ matched: false, reason: 'event "pull_request" is not in events [push, tag]' });
  });

  it('branches apply to pushes and pull requests', () => {
    const branches = ['main', 'release/*'];
    expect(matchTrigger(ev(), { branches })).toEqual({ matched: true });
    expect(matchTrigger(ev({ branch: 'release/2.0', ref: 'refs/heads/release/2.0' }), { branches })).toEqual({ matched: true });
    expect(matchTrigger(ev({ branch: 'dev', ref: 'refs/heads/dev' }), { branches })).toEqual({ matched: false, reason: 'branch "dev" matches none of branches [main, release/*]' });
    expect(matchTrigger(ev({ branch: 'release/2.0/x' }), { branches })).toMatchObject({ matched: false });
    expect(matchTrigger(prEv, { branches: ['feature/*'] })).toEqual({ matched: true });
    expect(matchTrigger(prEv, { branches })).toEqual({ matched: false, reason: 'branch "feature/x" matches none of branches [main, release/*]' });
    expect(matchTrigger(ev({ branch: null }), { branches })).toMatchObject({ matched: false });
  });

  it('the branch filter does not apply to tags', () => {
    expect(matchTrigger(tagEv, { branches: ['main'] })).toEqual({ matched: true });
    expect(matchTrigger(tagEv, { events: ['push'], branches: ['main'] })).toMatchObject({ matched: false });
  });

  it('paths: at least one changed path must match; no path information passes', () => {
    const paths = ['src/**'];
    expect(matchTrigger(ev({ changedPaths: ['README.md', 'src/a/b.ts'] }), { paths })).toEqual({ matched: true });
    expect(matchTrigger(ev({ changedPaths: ['README.md', 'docs/x.md'] }), { paths })).toEqual({ matched: false, reason: 'no changed path matches paths [src/**]' });
    expect(matchTrigger(ev({ changedPaths: [] }), { paths })).toEqual({ matched: true });
    expect(matchTrigger(tagEv, { paths })).toEqual({ matched: true });
    expect(matchTrigger(ev({ changedPaths: ['docs/x.md'] }), { paths: ['src/**', '**/*.md'] })).toEqual({ matched: true });
  });

  it('filters combine: the first failing one is reported', () => {
    const opts = { events: ['push'], branches: ['main'], paths: ['src/**'] };
    expect(matchTrigger(ev({ changedPaths: ['src/a.ts'] }), opts)).toEqual({ matched: true });
    expect(matchTrigger(ev({ branch: 'dev', changedPaths: ['docs/a'] }), opts)).toMatchObject({ reason: expect.stringContaining('branch "dev"') });
    expect(matchTrigger(ev({ changedPaths: ['docs/a'] }), opts)).toMatchObject({ reason: expect.stringContaining('no changed path') });
  });

  it('takes a compiled event trigger as it is', () => {
    const trigger: Extract<CompiledTrigger, { type: 'event' }> = { type: 'event', events: ['push', 'pull_request'], branches: ['main'], paths: [] };
    expect(matchTrigger(ev(), trigger)).toEqual({ matched: true });
    expect(matchTrigger(tagEv, trigger)).toMatchObject({ matched: false });
  });

  it('ignores non-string filter entries', () => {
    expect(matchTrigger(ev(), { branches: [42, null] as unknown as string[] })).toEqual({ matched: true });
    expect(matchTrigger(ev(), { branches: 'main' as unknown as string[] })).toEqual({ matched: true });
  });
});

describe('fuzz: random headers and bodies never throw', () => {
  const SECRET = 'fuzz-secret';
  const providers: WebhookProvider[] = ['github', 'gitlab', 'gitea', 'generic'];
  const headerNames = [
    'x-github-event', 'x-hub-signature-256', 'x-github-delivery', 'x-gitlab-event', 'x-gitlab-token', 'x-gitlab-event-uuid', 'x-gitlab-webhook-uuid',
    'idempotency-key', 'x-gitea-event', 'x-gitea-signature', 'x-gitea-delivery', 'x-arcentra-signature', 'x-arcentra-event', 'x-arcentra-delivery',
    'X-GitHub-Event', '__proto__', 'constructor', 'content-type',
  ];
  const events = ['push', 'pull_request', 'ping', 'create', 'Push Hook', 'Tag Push Hook', 'Merge Request Hook', 'tag', '', 'x'];
  const keys = ['ref', 'after', 'before', 'deleted', 'commits', 'added', 'modified', 'removed', 'pusher', 'sender', 'login', 'name', 'repository',
    'full_name', 'action', 'number', 'pull_request', 'head', 'sha', 'object_attributes', 'iid', 'source_branch', 'last_commit', 'id', 'oldrev',
    'project', 'path_with_namespace', 'checkout_sha', 'user_username', 'total_commits_count', 'total_commits', 'event', 'paths', 'commitSha', '__proto__'];
  const SHA = 'a'.repeat(40);

  const seen = { verified: 0, normalized: 0, matched: 0 };

  function run(seed: number) {
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const str = (): string => {
      const r = rnd();
      if (r < 0.2) return pick(['refs/heads/main', 'refs/tags/v1', 'refs/pull/1/head', 'main', SHA, '0'.repeat(40), 'opened', 'open', 'update', 'synchronize']);
      if (r < 0.3) return `sha256=${'f'.repeat(Math.floor(rnd() * 70))}`;
      return Array.from({ length: Math.floor(rnd() * 12) }, () => String.fromCharCode(Math.floor(rnd() * 0x250))).join('');
    };
    const value = (depth: number): unknown => {
      const r = rnd();
      if (r < 0.1) return null;
      if (r < 0.2) return rnd() < 0.5;
      if (r < 0.3) return Math.floor(rnd() * 100) - 10;
      if (r < 0.6 || depth > 3) return str();
      if (r < 0.75) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 6) }, () => [pick(keys), value(depth + 1)]));
    };
    const headers: WebhookHeaders = {};
    for (let i = Math.floor(rnd() * 6); i > 0; i--) {
      const name = pick(headerNames);
      const r = rnd();
      headers[name] = r < 0.4 ? pick(events) : r < 0.6 ? [str(), str()] : r < 0.7 ? undefined : str();
    }
    // A plausible ref first (random keys may overwrite it), so some payloads get through to matching.
    const entries = [['ref', str()], ...Array.from({ length: Math.floor(rnd() * 10) }, () => [pick(keys), value(0)])];
    const payload = rnd() < 0.8 ? Object.fromEntries(entries) : value(0);
    const rawBody = rnd() < 0.2 ? Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256))) : Buffer.from(JSON.stringify(payload) ?? '');
    // Sometimes sign correctly, so the accepted path is exercised too.
    if (rnd() < 0.3) headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', SECRET).update(rawBody).digest('hex')}`;

    const detected = detectProvider(headers);
    expect(detected === null || providers.includes(detected)).toBe(true);
    for (const provider of providers) {
      const verdict = verifySignature(provider, headers, rawBody, SECRET);
      expect(verdict.ok === true || (verdict.ok === false && typeof verdict.reason === 'string')).toBe(true);
      if (verdict.ok) seen.verified++;
      const id = deliveryId(provider, headers, rawBody);
      expect(typeof id === 'string' && id.length > 0 && id.length <= 233).toBe(true);
      const normalized = normalizeEvent(provider, headers, payload);
      if (!normalized.ok) {
        expect(typeof normalized.ignored).toBe('string');
        continue;
      }
      seen.normalized++;
      const e = normalized.event;
      expect(['push', 'tag', 'pull_request']).toContain(e.event);
      expect(e.ref.startsWith('refs/')).toBe(true);
      expect(Array.isArray(e.changedPaths)).toBe(true);
      const m = matchTrigger(e, { events: [pick(['push', 'tag', 'pull_request'])], branches: [str(), 'main'], paths: [str(), '**/*'] });
      expect(typeof m.matched).toBe('boolean');
      if (m.matched) seen.matched++;
    }
  }

  it('2000 seeded cases', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      try {
        run(seed);
      } catch (error) {
        throw new Error(`seed ${seed}: ${(error as Error).message}`);
      }
    }
    // The accepting paths were reached too, not only the early rejections.
    expect(seen.verified).toBeGreaterThan(50);
    expect(seen.normalized).toBeGreaterThan(50);
    expect(seen.matched).toBeGreaterThan(5);
  });

  it('random globs compile and never throw', () => {
    const rnd = prng(7);
    const alphabet = 'ab*?/.[](){}+^$|\\-';
    for (let i = 0; i < 2000; i++) {
      const glob = Array.from({ length: Math.floor(rnd() * 12) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
      const re = globToRegExp(glob);
      expect(re.test('a/b.c')).toBeTypeOf('boolean');
      // A glob without wildcards matches exactly itself.
      if (!/[*?]/.test(glob)) expect(re.test(glob), glob).toBe(true);
    }
  });
});
