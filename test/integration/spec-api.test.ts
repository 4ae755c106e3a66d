// Definition endpoints: validate, read, JSON Schema, and the checks that guard create and trigger.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { DB_KINDS } from '../support/databases';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';
import { pipelineRevisions, pipelineRuns } from '../../src/store/schema';

// The seed page's first example, kept once as a fixture.
const SEED_STAGES = readFileSync(join(process.cwd(), 'test', 'fixtures', 'spec', 'seed-stages.yaml'), 'utf8');

describe.each(DB_KINDS)('spec endpoints on %s', (db) => {
  let sys: TestSystem;
  let pipelineId: string;
  beforeAll(async () => {
    sys = await startTestSystem({ db, agent: false });
    const created = await sys.api('POST', '/api/v1/pipelines', {
      projectId: 'proj_spec',
      name: 'spec-pipeline',
      spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'a', steps: [{ name: 's', run: 'echo hi' }] }] },
    });
    pipelineId = created.body.detail.pipelineId;
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('validates the seed example as text: valid, with counts', async () => {
    const r = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/spec/validate`, { spec: SEED_STAGES, format: 'yaml' });
    expect(r.status).toBe(200);
    expect(r.body.detail).toEqual({ valid: true, errors: [], warnings: expect.any(Array), jobsCount: 1, stagesCount: 1 });
  });

  it('answers an invalid spec with 200 valid:false, each error with path, line and column', async () => {
    const text = SEED_STAGES.replace('actions/go-build@v1', 'actions/go-build@v9').replace('name: checkout', 'nme: checkout');
    const r = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/spec/validate`, { spec: text, format: 'yaml' });
    expect(r.status).toBe(200);
    expect(r.body.detail.valid).toBe(false);
    const byPath = Object.fromEntries(r.body.detail.errors.map((e: any) => [e.path, e]));
    expect(Object.keys(byPath).length).toBeGreaterThan(0);
    for (const e of r.body.detail.errors) {
      expect(typeof e.message).toBe('string');
      expect(e.line).toBeGreaterThan(0);
      expect(e.column).toBeGreaterThan(0);
    }
    expect(r.body.detail.errors.some((e: any) => e.path.startsWith('stages[0].jobs[0].steps[0]') && e.line === 8)).toBe(true);
  });

  it('resolves plugins against the catalogue and checks their args', async () => {
    const spec = {
      namespace: 'demo',
      version: 'v1',
      jobs: [{ name: 'b', steps: [{ name: 'c', uses: 'actions/go-build@v1', args: { go_version: 'one', colour: 'red' } }, { name: 'd', uses: 'acme/unknown@v1' }] }],
    };
    const r = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/spec/validate`, { spec });
    expect(r.body.detail.valid).toBe(false);
    const paths = r.body.detail.errors.map((e: any) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['jobs[0].steps[0].args.go_version', 'jobs[0].steps[0].args.colour', 'jobs[0].steps[1].uses']));
  });

  it('rejects the legacy content field and a missing spec with 400', async () => {
    const legacy = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/spec/validate`, { content: SEED_STAGES });
    expect(legacy.status).toBe(400);
    expect(legacy.body.errMsg).toMatch(/structured "spec"/);
    const missing = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/spec/validate`, { format: 'yaml' });
    expect(missing.status).toBe(400);
    expect(missing.body.errMsg).toMatch(/^spec: /);
    const badFormat = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/spec/validate`, { spec: {}, format: 'toml' });
    expect(badFormat.status).toBe(400);
    expect(badFormat.body.errMsg).toMatch(/^format: /);
  });

  it('answers 404 for validate on a pipeline that does not exist', async () => {
    const r = await sys.api('POST', `/api/v1/pipelines/pl_missing/spec/validate`, { spec: {} });
    expect(r.status).toBe(404);
  });

  it('serves the current definition with its revision as headCommitSha', async () => {
    const r = await sys.api('GET', `/api/v1/pipelines/${pipelineId}/spec`);
    expect(r.status).toBe(200);
    expect(r.body.detail).toMatchObject({ format: 'yaml', spec: { namespace: 'demo' } });
    expect(r.body.detail.headCommitSha).toMatch(/^rev_/);
  });

  it('serves the JSON Schema of pipeline.yaml', async () => {
    const r = await sys.api('GET', '/api/v1/pipelines/schema.json');
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('object');
    expect(Object.keys(r.body.properties)).toEqual(expect.arrayContaining(['namespace', 'version', 'stages', 'jobs', 'triggers']));
  });

  it('refuses to trigger a stored spec that no longer compiles: 400, no run, no workflow', async () => {
    const created = await sys.api('POST', '/api/v1/pipelines', {
      projectId: 'proj_spec',
      name: 'goes-bad',
      spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'a', steps: [{ name: 's', run: 'echo hi' }] }] },
    });
    const id = created.body.detail.pipelineId;
    // The definition goes bad behind the API's back (as when a plugin disappears from the catalogue).
    await sys.database.db
      .update(pipelineRevisions)
      .set({ spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'a', steps: [{ name: 's', uses: 'acme/gone@v1' }] }] } })
      .where(eq(pipelineRevisions.pipelineId, id));
    const r = await sys.api('POST', `/api/v1/pipelines/${id}/trigger`, { requestId: 'x' });
    expect(r.status).toBe(400);
    expect(r.body.details[0].path).toBe('jobs[0].steps[0].uses');
    expect(await sys.database.db.select().from(pipelineRuns).where(eq(pipelineRuns.pipelineId, id))).toEqual([]);
  });
});
