// HTTP conformance: every route of /api/v1, taken from the served OpenAPI document (so a route
// without a case here fails), answers its happy path, 401 without a token, 403 to a role below
// its own, 404 for a missing id and for another project's, 400 for a bad body or query, and 409
// where it applies, each in the exact envelope of CONTRACT section 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';

type Res = { status: number; body: any };
const ROLES = ['viewer', 'operator', 'editor', 'admin'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exactly the error envelope: no stack, no extra keys. */
function expectError(res: Res, status: number, path: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  const keys = Object.keys(res.body).sort();
  expect(keys.filter((k) => k !== 'details')).toEqual(['code', 'errMsg', 'path', 'timestamp']);
  expect(res.body.code).toBe(status);
  expect(res.body.path).toBe(path);
  expect(res.body.errMsg.length).toBeGreaterThan(0);
  expect(res.body.errMsg).not.toMatch(/\n\s+at /);
  expect(Number.isInteger(res.body.timestamp)).toBe(true);
}
function expectOk(res: Res) {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.code).toBe(0);
  expect(res.body.msg).toBe('success');
  expect(Number.isInteger(res.body.timestamp)).toBe(true);
  expect(Object.keys(res.body).filter((k) => !['code', 'msg', 'detail', 'timestamp'].includes(k))).toEqual([]);
}

interface Fixture {
  pipelineId: string;
  runId: string;
  stepRunId: string;
  approvalId: string;
  tokenId: string;
}

interface RouteCase {
  /** A body the route accepts. */
  body?: (f: Fixture) => unknown;
  /** A query string that is wrong, for routes that take a query. */
  badQuery?: string;
  /** The happy path, on fresh resources where it changes state; returns the response. */
  happy: (f: Fixture) => Promise<Res>;
  /** A request that conflicts with the current state. */
  conflict?: (f: Fixture) => Promise<Res>;
  /** The ids a path parameter takes for the 404 checks (default: the fixture's). */
  scoped?: boolean;
}

describe('API conformance (every route, from the OpenAPI document)', () => {
  let sys: TestSystem;
  const tokens: Record<string, string> = {};
  let otherProject: string;
  let n = 0;
  const SPEC = { namespace: 'demo', version: 'v1', jobs: [{ name: 'gate', approval: { required: true, timeout: '1h' }, steps: [{ name: 's', run: 'echo hi' }] }] };

  const api = (method: string, path: string, body?: unknown, token: string | null = tokens.admin) => sys.api(method, path, body, token);
  async function freshPipeline(spec: unknown = SPEC) {
    const res = await api('POST', '/api/v1/pipelines', { projectId: 'proj_conf', name: `c${++n}`, spec });
    expectOk(res);
    return res.body.detail.pipelineId as string;
  }
  async function waitingRun(pipelineId: string) {
    const runId = (await api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {})).body.detail.runId;
    for (let i = 0; i < 200; i++) {
      const run = (await api('GET', `/api/v1/pipelines/runs/${runId}`)).body.detail;
      if (run.waitingFor?.length && run.status === 'running') return run;
      await sleep(100);
    }
    throw new Error('the run never waited at its gate');
  }
  async function fixture(): Promise<Fixture> {
    const pipelineId = await freshPipeline();
    const run = await waitingRun(pipelineId);
    const tok = await api('POST', '/api/v1/tokens', { name: `t${++n}`, role: 'viewer' });
    return { pipelineId, runId: run.runId, stepRunId: run.stages[0].jobs[0].steps[0].stepRunId, approvalId: run.waitingFor[0].approvalId, tokenId: tok.body.detail.tokenId };
  }
  async function untilStatus(runId: string, status: string) {
    for (let i = 0; i < 200; i++) {
      if ((await api('GET', `/api/v1/pipelines/runs/${runId}`)).body.detail.status === status) return;
      await sleep(100);
    }
    throw new Error(`run ${runId} never became ${status}`);
  }

  const CASES: Record<string, RouteCase> = {
    'POST /api/v1/pipelines': {
      body: () => ({ projectId: 'proj_conf', name: `new-${++n}`, spec: SPEC }),
      happy: () => api('POST', '/api/v1/pipelines', { projectId: 'proj_conf', name: `new-${++n}` }),
      conflict: async () => {
        await api('POST', '/api/v1/pipelines', { projectId: 'proj_conf', name: 'dup' });
        return api('POST', '/api/v1/pipelines', { projectId: 'proj_conf', name: 'dup' });
      },
    },
    'GET /api/v1/pipelines': { badQuery: 'pageSize=101', happy: () => api('GET', '/api/v1/pipelines?projectId=proj_conf') },
    'GET /api/v1/pipelines/schema.json': { happy: () => api('GET', '/api/v1/pipelines/schema.json') },
    'GET /api/v1/pipelines/runs/:runId': { happy: (x) => api('GET', `/api/v1/pipelines/runs/${x.runId}`) },
    'GET /api/v1/pipelines/runs/:runId/approvals': { happy: (x) => api('GET', `/api/v1/pipelines/runs/${x.runId}/approvals`) },
    'GET /api/v1/pipelines/runs/:runId/steps/:stepRunId/logs': {
      badQuery: 'fromLine=0',
      happy: (x) => api('GET', `/api/v1/pipelines/runs/${x.runId}/steps/${x.stepRunId}/logs?fromLine=1&limit=10`),
    },
    'GET /api/v1/pipelines/:pipelineId': { happy: (x) => api('GET', `/api/v1/pipelines/${x.pipelineId}`) },
    'PUT /api/v1/pipelines/:pipelineId': {
      body: () => ({ description: 'changed' }),
      happy: (x) => api('PUT', `/api/v1/pipelines/${x.pipelineId}`, { description: 'changed' }),
      conflict: async (x) => {
        await api('POST', '/api/v1/pipelines', { projectId: 'proj_conf', name: 'taken' });
        return api('PUT', `/api/v1/pipelines/${x.pipelineId}`, { name: 'taken' });
      },
    },
    'DELETE /api/v1/pipelines/:pipelineId': {
      badQuery: 'force=maybe',
      happy: async () => api('DELETE', `/api/v1/pipelines/${await freshPipeline()}`),
      conflict: (x) => api('DELETE', `/api/v1/pipelines/${x.pipelineId}`),
    },
    'GET /api/v1/pipelines/:pipelineId/spec': { happy: (x) => api('GET', `/api/v1/pipelines/${x.pipelineId}/spec`) },
    'POST /api/v1/pipelines/:pipelineId/spec/validate': {
      body: () => ({ spec: SPEC }),
      happy: (x) => api('POST', `/api/v1/pipelines/${x.pipelineId}/spec/validate`, { spec: SPEC }),
    },
    'POST /api/v1/pipelines/:pipelineId/spec/save': {
      body: () => ({ spec: SPEC, expectedHeadCommitSha: 'rev_whatever' }),
      happy: async (x) => {
        const head = (await api('GET', `/api/v1/pipelines/${x.pipelineId}/spec`)).body.detail.headCommitSha;
        return api('POST', `/api/v1/pipelines/${x.pipelineId}/spec/save`, { spec: SPEC, expectedHeadCommitSha: head });
      },
      conflict: (x) => api('POST', `/api/v1/pipelines/${x.pipelineId}/spec/save`, { spec: SPEC, expectedHeadCommitSha: 'rev_stale' }),
    },
    'POST /api/v1/pipelines/:pipelineId/trigger': {
      body: () => ({ variables: { A: '1' } }),
      happy: async () => api('POST', `/api/v1/pipelines/${await freshPipeline({ namespace: 'demo', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 's', run: 'true' }] }] })}/trigger`, { requestId: 'r1' }),
    },
    'GET /api/v1/pipelines/:pipelineId/runs': { badQuery: 'page=0', happy: (x) => api('GET', `/api/v1/pipelines/${x.pipelineId}/runs?status=running`) },
    'POST /api/v1/pipelines/:pipelineId/runs/:runId/pause': {
      body: () => ({ reason: 'hold' }),
      happy: async (x) => {
        const res = await api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/pause`, { reason: 'hold' });
        await untilStatus(x.runId, 'paused');
        return res;
      },
      conflict: async (x) => {
        await api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/pause`, {});
        await untilStatus(x.runId, 'paused');
        return api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/pause`, {});
      },
    },
    'POST /api/v1/pipelines/:pipelineId/runs/:runId/resume': {
      body: () => ({}),
      happy: async (x) => {
        await api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/pause`, {});
        await untilStatus(x.runId, 'paused');
        return api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/resume`, { operator: 'ops' });
      },
      conflict: (x) => api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/resume`, {}),
    },
    'POST /api/v1/pipelines/:pipelineId/runs/:runId/stop': {
      body: () => ({}),
      happy: (x) => api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/stop`, { reason: 'enough' }),
      conflict: async (x) => {
        await api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/stop`, {});
        await untilStatus(x.runId, 'cancelled');
        return api('POST', `/api/v1/pipelines/${x.pipelineId}/runs/${x.runId}/stop`, {});
      },
    },
    'GET /api/v1/agents': { badQuery: 'pageSize=x', happy: () => api('GET', '/api/v1/agents') },
    'POST /api/v1/agents/tokens': { body: () => ({ name: 'ci-agent' }), happy: () => api('POST', '/api/v1/agents/tokens', { name: 'ci-agent' }) },
    'POST /api/v1/approvals/:approvalId/approve': {
      body: () => ({ reason: 'ok' }),
      happy: (x) => api('POST', `/api/v1/approvals/${x.approvalId}/approve`, { reason: 'ok' }),
      conflict: async (x) => {
        await api('POST', `/api/v1/approvals/${x.approvalId}/reject`, {});
        return api('POST', `/api/v1/approvals/${x.approvalId}/approve`, {});
      },
    },
    'POST /api/v1/approvals/:approvalId/reject': {
      body: () => ({ reason: 'no' }),
      happy: (x) => api('POST', `/api/v1/approvals/${x.approvalId}/reject`, { reason: 'no' }),
      conflict: async (x) => {
        await api('POST', `/api/v1/approvals/${x.approvalId}/approve`, {});
        return api('POST', `/api/v1/approvals/${x.approvalId}/reject`, {});
      },
    },
    'POST /api/v1/tokens': { body: () => ({ name: 'x', role: 'viewer' }), happy: () => api('POST', '/api/v1/tokens', { name: 'x', role: 'viewer' }), scoped: false },
    'GET /api/v1/tokens': { badQuery: 'page=-1', happy: () => api('GET', '/api/v1/tokens'), scoped: false },
    'DELETE /api/v1/tokens/:tokenId': { happy: (x) => api('DELETE', `/api/v1/tokens/${x.tokenId}`), scoped: false },
  };

  let operations: Array<{ key: string; method: string; path: string; role: string; hasBody: boolean; hasQuery: boolean; produces: string | null }>;
  let unauthenticated: string[] = [];

  beforeAll(async () => {
    sys = await startTestSystem({ db: 'postgres' });
    for (const role of ROLES) tokens[role] = (await sys.api('POST', '/api/v1/tokens', { name: `conf-${role}`, role })).body.detail.token;
    otherProject = (await sys.api('POST', '/api/v1/tokens', { name: 'conf-other', role: 'admin', projectIds: ['proj_elsewhere'] })).body.detail.token;
    const doc = (await sys.api('GET', '/api/v1/openapi.json')).body;
    operations = [];
    unauthenticated = [];
    for (const [path, methods] of Object.entries<any>(doc.paths)) {
      if (!path.startsWith('/api/v1/') || path === '/api/v1/openapi.json') continue;
      for (const [method, op] of Object.entries<any>(methods)) {
        const expressPath = path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
        // A route without bearer auth has no roles to conform to (webhooks: test/integration/triggers.test.ts).
        if (Array.isArray(op.security) && op.security.length === 0) {
          unauthenticated.push(`${method.toUpperCase()} ${expressPath}`);
          continue;
        }
        operations.push({
          key: `${method.toUpperCase()} ${expressPath}`,
          method: method.toUpperCase(),
          path: expressPath,
          role: op['x-arcentra-role'],
          hasBody: !!op.requestBody,
          hasQuery: op.parameters.some((p: any) => p.in === 'query'),
          produces: Object.keys(op.responses['200'].content ?? {})[0] ?? null,
        });
      }
    }
  }, 60_000);
  afterAll(async () => {
    await sys?.close();
  });

  const fill = (path: string, ids: Record<string, string>) => path.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => ids[name] ?? `missing_${name}`);

  it('has exactly one /api/v1 route without a bearer token: the signed webhook', () => {
    expect(unauthenticated).toEqual(['POST /api/v1/webhooks/:pipelineId']);
  });

  it('serves an OpenAPI 3.1 document whose every route has a case here, and no case without a route', async () => {
    const doc = (await api('GET', '/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    // Every request body is a JSON Schema (2020-12, OpenAPI 3.1's dialect) that accepts the case's body.
    const ajv = new Ajv2020({ strict: false });
    const f0 = { pipelineId: 'p', runId: 'r', stepRunId: 's', approvalId: 'a', tokenId: 't' };
    for (const [path, methods] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(methods)) {
        const schema = op.requestBody?.content['application/json'].schema;
        if (!schema || (Array.isArray(op.security) && op.security.length === 0)) continue;
        const validate = ajv.compile(schema);
        const key = `${method.toUpperCase()} ${path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1')}`;
        expect(validate(CASES[key].body!(f0)), `${key}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
    }
    expect(operations.length).toBeGreaterThanOrEqual(24);
    expect(operations.map((o) => o.key).sort()).toEqual(Object.keys(CASES).sort());
  });

  it('answers 401 without a token, and with an unknown one, on every route', async () => {
    for (const op of operations) {
      const path = fill(op.path, {});
      expectError(await api(op.method, path, op.hasBody ? {} : undefined, null), 401, path);
      expectError(await api(op.method, path, op.hasBody ? {} : undefined, 'arc_unknownunknownunknown'), 401, path);
    }
  });

  it('answers 403 to every role below the route\'s own', async () => {
    const f0 = await fixture();
    let checked = 0;
    for (const op of operations) {
      for (const role of ROLES.slice(0, ROLES.indexOf(op.role))) {
        const path = fill(op.path, f0 as unknown as Record<string, string>);
        expectError(await api(op.method, path, CASES[op.key].body?.(f0), tokens[role]), 403, path);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  }, 60_000);

  it('answers 404 for a missing id, and for an id of a project the token cannot see', async () => {
    const f0 = await fixture();
    for (const op of operations.filter((o) => o.path.includes(':'))) {
      const missing = fill(op.path, {});
      expectError(await api(op.method, missing, CASES[op.key].body?.(f0)), 404, missing);
      if (CASES[op.key].scoped === false) continue;
      const real = fill(op.path, f0 as unknown as Record<string, string>);
      expectError(await api(op.method, real, CASES[op.key].body?.(f0), otherProject), 404, real);
    }
  }, 60_000);

  it('answers 400 naming the field for a bad body or query', async () => {
    const f0 = await fixture();
    for (const op of operations) {
      const path = fill(op.path, f0 as unknown as Record<string, string>);
      if (op.hasBody) {
        const res = await api(op.method, path, ['not', 'an', 'object']);
        expectError(res, 400, path);
      }
      if (op.hasQuery) {
        const badQuery = CASES[op.key].badQuery;
        expect(badQuery, `${op.key} needs a badQuery case`).toBeTruthy();
        const res = await api(op.method, `${path}?${badQuery}`, CASES[op.key].body?.(f0));
        expectError(res, 400, path);
        expect(res.body.errMsg).toMatch(new RegExp(`^${badQuery!.split('=')[0]}: `));
      }
    }
  }, 60_000);

  it('answers the happy path of every route', async () => {
    for (const op of operations) {
      const res = await CASES[op.key].happy(await fixture());
      if (op.produces === 'application/json') expect(res.status, op.key).toBe(200);
      else expectOk(res);
    }
  }, 240_000);

  it('answers 409 where the state does not allow it', async () => {
    const withConflict = operations.filter((o) => CASES[o.key].conflict);
    expect(withConflict.length).toBeGreaterThanOrEqual(9);
    for (const op of withConflict) {
      const res = await CASES[op.key].conflict!(await fixture());
      expect(res.status, `${op.key}: ${JSON.stringify(res.body)}`).toBe(409);
      expectError(res, 409, res.body.path);
    }
  }, 240_000);
});
