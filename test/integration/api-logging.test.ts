// Request logging: every request is logged with its path, status and time; bearer tokens, ?token=
// query values and the secrets in answers never reach the log.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { ADMIN_TOKEN, startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';

describe('request logging', () => {
  let sys: TestSystem;
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  beforeAll(async () => {
    sys = await startTestSystem({ db: 'pglite', agent: false, logger: createLogger('info', sink) });
  });
  afterAll(async () => {
    await sys?.close();
  });
  const text = () => lines.join('\n');

  it('logs each request by path, without the bearer token, query tokens or secrets in answers', async () => {
    const minted = await sys.api('POST', '/api/v1/tokens', { name: 'logged', role: 'viewer' });
    const secret: string = minted.body.detail.token;
    await fetch(`${sys.url}/api/v1/pipelines?token=${secret}&projectId=x`, { headers: { authorization: `Bearer ${secret}` } });
    await fetch(`${sys.url}/api/v1/pipelines`, { headers: { authorization: 'Bearer arc_wrong_but_secret_looking_value' } });
    const agentToken = (await sys.api('POST', '/api/v1/agents/tokens', { name: 'a' })).body.detail.token;
    await new Promise((r) => setTimeout(r, 50));

    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests.map((r) => [r.method, r.path, r.status])).toEqual(
      expect.arrayContaining([
        ['POST', '/api/v1/tokens', 200],
        ['GET', '/api/v1/pipelines', 200],
        ['GET', '/api/v1/pipelines', 401],
        ['POST', '/api/v1/agents/tokens', 200],
      ]),
    );
    for (const r of requests) expect(typeof r.ms).toBe('number');
    for (const leaked of [ADMIN_TOKEN, secret, agentToken, 'arc_wrong_but_secret_looking_value']) expect(text()).not.toContain(leaked);
  });

  it('censors secret-named fields in anything logged', () => {
    const logger = createLogger('info', sink);
    logger.info({ token: 't0k3n-a', nested: { secret: 's3cr3t-b', password: 'p4ss-c' }, req: { headers: { authorization: 'Bearer zzz-d' } }, credentials: { token: 'e' } }, 'event');
    const last = JSON.parse(lines[lines.length - 1]);
    expect(last).toMatchObject({ token: '***', nested: { secret: '***', password: '***' }, req: { headers: { authorization: '***' } }, credentials: '***' });
    for (const leaked of ['t0k3n-a', 's3cr3t-b', 'p4ss-c', 'zzz-d']) expect(text()).not.toContain(leaked);
  });
});
