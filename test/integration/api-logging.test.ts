// Request logging and metrics: every request is logged with its path, status and time (bearer
// tokens, ?token= query values and the secrets in answers never reach the log), and counted in
// GET /metrics by its route pattern.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { ADMIN_TOKEN, startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';

describe('request logging and metrics', () => {
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

  it('serves Prometheus metrics without a token: requests by route pattern, status transitions, process figures', async () => {
    const p = await sys.api('POST', '/api/v1/pipelines', { projectId: 'm', name: 'metrics', spec: { namespace: 'm', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 's', run: 'true' }] }] } });
    const pipelineId = p.body.detail.pipelineId;
    await sys.api('GET', `/api/v1/pipelines/${pipelineId}`);
    await sys.api('GET', '/api/v1/pipelines/pl_missing');
    const { runId } = (await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {})).body.detail;
    // No agent here: the job waits in queued, which is a transition all the same.
    for (let i = 0; i < 100 && (await sys.api('GET', `/api/v1/pipelines/runs/${runId}`)).body.detail.stages[0].jobs[0].status !== 'queued'; i++) await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${sys.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/arcentra_http_requests_total\{method="GET",route="\/api\/v1\/pipelines\/:pipelineId",status="200"\} [1-9]/);
    expect(text).toMatch(/arcentra_http_requests_total\{method="GET",route="\/api\/v1\/pipelines\/:pipelineId",status="404"\} [1-9]/);
    expect(text).toMatch(/arcentra_http_request_duration_seconds_bucket\{le="0.1",method="POST",route="\/api\/v1\/pipelines"\}/);
    expect(text).toMatch(/arcentra_status_transitions_total\{kind="job",status="queued"\} [1-9]/);
    expect(text).toMatch(/arcentra_process_resident_memory_bytes \d+/);
    expect(text).not.toContain(pipelineId);
    await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, {});
  });
});
