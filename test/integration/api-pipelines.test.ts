// The pipeline, definition and token routes of the control-plane API, on PGlite and PostgreSQL:
// partial updates, deletes that respect active runs, inline saves with optimistic concurrency and
// idempotency, tokens with roles and project limits, and triggers that stay idempotent under a burst.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { DB_KINDS } from '../support/databases';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';
import { pipelineRevisions, pipelineRuns } from '../../src/store/schema';

const SPEC = { namespace: 'demo', version: 'v1', jobs: [{ name: 'build', steps: [{ name: 'hello', run: 'echo hello' }] }] };
const specWith = (run: string) => ({ ...SPEC, jobs: [{ name: 'build', steps: [{ name: 'hello', run }] }] });

describe.each(DB_KINDS)('pipeline, definition and token API on %s', (db) => {
  let sys: TestSystem;
  let n = 0;
  beforeAll(async () => {
    sys = await startTestSystem({ db });
  });
  afterAll(async () => {
    await sys?.close();
  });

  async function pipeline(body: Record<string, unknown> = {}) {
    const res = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_a', name: `p${++n}`, ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.detail.pipelineId as string;
  }
  async function token(role: string, projectIds?: string[]) {
    const res = await sys.api('POST', '/api/v1/tokens', { name: `${role}-${++n}`, role, projectIds });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.detail as { tokenId: string; token: string };
  }
  const envelopeError = (res: { status: number; body: any }, status: number, path: string) => {
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ code: status, path });
    expect(typeof res.body.errMsg).toBe('string');
    expect(typeof res.body.timestamp).toBe('number');
  };

  describe('tokens', () => {
    it('creates a token whose secret is shown once, lists it without the secret, and revokes it', async () => {
      const created = await sys.api('POST', '/api/v1/tokens', { name: 'ci', role: 'viewer', projectIds: ['proj_a'], expiresAt: '2099-01-01T00:00:00Z' });
      expect(created.status).toBe(200);
      expect(created.body.detail).toMatchObject({ name: 'ci', role: 'viewer', projectIds: ['proj_a'], expiresAt: '2099-01-01T00:00:00.000Z' });
      const { tokenId, token: secret } = created.body.detail;
      expect(secret).toMatch(/^arc_/);
      const listed = await sys.api('GET', '/api/v1/tokens?pageSize=100');
      const row = listed.body.detail.list.find((t: any) => t.tokenId === tokenId);
      expect(row).toMatchObject({ name: 'ci', role: 'viewer' });
      expect(JSON.stringify(listed.body)).not.toContain(secret);
      expect(row).not.toHaveProperty('token');
      expect(row).not.toHaveProperty('tokenHash');

      expect((await sys.api('GET', '/api/v1/pipelines', undefined, secret)).status).toBe(200);
      expect((await sys.api('DELETE', `/api/v1/tokens/${tokenId}`)).status).toBe(200);
      envelopeError(await sys.api('GET', '/api/v1/pipelines', undefined, secret), 401, '/api/v1/pipelines');
      envelopeError(await sys.api('DELETE', `/api/v1/tokens/${tokenId}`), 404, `/api/v1/tokens/${tokenId}`);
    });

    it('lets only admins manage tokens, and names the field of a bad body', async () => {
      const editor = await token('editor');
      envelopeError(await sys.api('POST', '/api/v1/tokens', { name: 'x', role: 'admin' }, editor.token), 403, '/api/v1/tokens');
      envelopeError(await sys.api('GET', '/api/v1/tokens', undefined, editor.token), 403, '/api/v1/tokens');
      const badRole = await sys.api('POST', '/api/v1/tokens', { name: 'x', role: 'root' });
      envelopeError(badRole, 400, '/api/v1/tokens');
      expect(badRole.body.errMsg).toMatch(/^role: must be one of viewer, operator, editor, admin/);
      expect((await sys.api('POST', '/api/v1/tokens', { name: 'x', role: 'viewer', expiresAt: '2001-01-01T00:00:00Z' })).body.errMsg).toMatch(/^expiresAt: must be in the future/);
      expect((await sys.api('POST', '/api/v1/tokens', { name: 'x', role: 'viewer', projectIds: 'proj_a' })).body.errMsg).toMatch(/^projectIds: /);
      expect((await sys.api('POST', '/api/v1/tokens', { role: 'viewer' })).body.errMsg).toMatch(/^name: /);
    });
  });

  describe('PUT and DELETE /pipelines/:pipelineId', () => {
    it('updates some fields and keeps the others; the name stays unique per project', async () => {
      const id = await pipeline({ description: 'first', spec: SPEC });
      const taken = await pipeline();
      const takenName = (await sys.api('GET', `/api/v1/pipelines/${taken}`)).body.detail.name;
      const res = await sys.api('PUT', `/api/v1/pipelines/${id}`, { description: 'second', metadata: { team: 'core' } });
      expect(res.status).toBe(200);
      expect(res.body.detail).toMatchObject({ pipelineId: id, description: 'second', metadata: { team: 'core' }, defaultBranch: 'main' });
      envelopeError(await sys.api('PUT', `/api/v1/pipelines/${id}`, { name: takenName }), 409, `/api/v1/pipelines/${id}`);
      envelopeError(await sys.api('PUT', `/api/v1/pipelines/${id}`, { description: 5 }), 400, `/api/v1/pipelines/${id}`);
      expect((await sys.api('PUT', `/api/v1/pipelines/${id}`, { projectId: 'proj_b' })).body.errMsg).toMatch(/^projectId: /);
      expect((await sys.api('PUT', `/api/v1/pipelines/${id}`, { saveMode: 'pr' })).body.errMsg).toMatch(/^saveMode: pr needs a git-backed pipeline/);
      expect((await sys.api('GET', `/api/v1/pipelines/${id}`)).body.detail.description).toBe('second');
    });

    it('hides another project from a limited token (404), and refuses a viewer (403)', async () => {
      const id = await pipeline();
      const other = await token('admin', ['proj_other']);
      envelopeError(await sys.api('PUT', `/api/v1/pipelines/${id}`, { description: 'x' }, other.token), 404, `/api/v1/pipelines/${id}`);
      envelopeError(await sys.api('DELETE', `/api/v1/pipelines/${id}`, undefined, other.token), 404, `/api/v1/pipelines/${id}`);
      const viewer = await token('viewer');
      envelopeError(await sys.api('PUT', `/api/v1/pipelines/${id}`, { description: 'x' }, viewer.token), 403, `/api/v1/pipelines/${id}`);
      envelopeError(await sys.api('DELETE', `/api/v1/pipelines/${id}`, undefined, viewer.token), 403, `/api/v1/pipelines/${id}`);
    });

    it('refuses to delete a pipeline with an active run, unless forced: then the run is stopped and stays readable', async () => {
      const id = await pipeline({ spec: specWith('sleep 30') });
      const deletedName = (await sys.api('GET', `/api/v1/pipelines/${id}`)).body.detail.name;
      const { runId } = (await sys.api('POST', `/api/v1/pipelines/${id}/trigger`, {})).body.detail;
      const refused = await sys.api('DELETE', `/api/v1/pipelines/${id}`);
      envelopeError(refused, 409, `/api/v1/pipelines/${id}`);
      expect(refused.body.details.activeRunIds).toEqual([runId]);
      expect((await sys.api('GET', `/api/v1/pipelines/${id}`)).status).toBe(200);

      expect((await sys.api('DELETE', `/api/v1/pipelines/${id}?force=true`)).status).toBe(200);
      envelopeError(await sys.api('GET', `/api/v1/pipelines/${id}`), 404, `/api/v1/pipelines/${id}`);
      const stopped = await sys.waitForRun(runId, ['cancelled'], 20_000);
      expect(stopped.pipelineId).toBe(id);
      // The name is free again.
      const again = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_a', name: deletedName });
      expect(again.status).toBe(200);
      expect(again.body.detail.pipelineId).not.toBe(id);
    });

    it('deletes an idle pipeline at once', async () => {
      const id = await pipeline();
      expect((await sys.api('DELETE', `/api/v1/pipelines/${id}`)).status).toBe(200);
      envelopeError(await sys.api('DELETE', `/api/v1/pipelines/${id}`), 404, `/api/v1/pipelines/${id}`);
    });
  });

  describe('POST …/spec/save for an inline pipeline', () => {
    const revisions = async (pipelineId: string) =>
      (await sys.database.db.select({ n: count() }).from(pipelineRevisions).where(eq(pipelineRevisions.pipelineId, pipelineId)))[0].n;

    it('saves on top of the expected head, refuses a stale head with the current one, and repeats a requestId', async () => {
      const id = await pipeline();
      const first = await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: SPEC, format: 'json', commitMessage: 'first', requestId: 'save-1' });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body.detail).toEqual({ commitSha: expect.stringMatching(/^rev_/), branch: null, saveMode: 'direct', prUrl: null, prBranch: null });
      const head = first.body.detail.commitSha;
      expect((await sys.api('GET', `/api/v1/pipelines/${id}/spec`)).body.detail).toMatchObject({ spec: SPEC, format: 'json', headCommitSha: head });

      const again = await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: specWith('echo other'), commitMessage: 'first', requestId: 'save-1' });
      expect(again.body.detail.commitSha).toBe(head);
      expect(await revisions(id)).toBe(1);

      const second = await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: specWith('echo two'), expectedHeadCommitSha: head });
      expect(second.status).toBe(200);
      const stale = await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: specWith('echo three'), expectedHeadCommitSha: head });
      envelopeError(stale, 409, `/api/v1/pipelines/${id}/spec/save`);
      expect(stale.body.details).toEqual({ currentHeadCommitSha: second.body.detail.commitSha });
      expect(await revisions(id)).toBe(2);
    });

    it('writes nothing for an invalid spec, a legacy content field or a wrong type', async () => {
      const id = await pipeline({ spec: SPEC });
      const head = (await sys.api('GET', `/api/v1/pipelines/${id}/spec`)).body.detail.headCommitSha;
      const invalid = await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: { ...SPEC, jobs: [{ name: 'x', steps: [] }] }, expectedHeadCommitSha: head });
      envelopeError(invalid, 400, `/api/v1/pipelines/${id}/spec/save`);
      expect(invalid.body.details[0].path).toBe('jobs[0].steps');
      envelopeError(await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { content: 'namespace: x' }), 400, `/api/v1/pipelines/${id}/spec/save`);
      expect((await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: SPEC, expectedHeadCommitSha: 7 })).body.errMsg).toMatch(/^expectedHeadCommitSha: /);
      expect(await revisions(id)).toBe(1);
      const viewer = await token('operator');
      envelopeError(await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: SPEC, expectedHeadCommitSha: head }, viewer.token), 403, `/api/v1/pipelines/${id}/spec/save`);
    });

    it('gives one 200 and one 409 to two simultaneous saves on the same head', async () => {
      const id = await pipeline({ spec: SPEC });
      const head = (await sys.api('GET', `/api/v1/pipelines/${id}/spec`)).body.detail.headCommitSha;
      const results = await Promise.all(['a', 'b'].map((x) => sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: specWith(`echo ${x}`), expectedHeadCommitSha: head })));
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(await revisions(id)).toBe(2);
    });
  });

  it('makes one run of 20 simultaneous triggers with one requestId', async () => {
    const id = await pipeline({ spec: SPEC });
    const answers = await Promise.all(Array.from({ length: 20 }, () => sys.api('POST', `/api/v1/pipelines/${id}/trigger`, { requestId: 'burst-1' })));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => a.body.detail.runId)).size).toBe(1);
    const [{ n: runs }] = await sys.database.db.select({ n: count() }).from(pipelineRuns).where(eq(pipelineRuns.pipelineId, id));
    expect(runs).toBe(1);
    const done = await sys.waitForRun(answers[0].body.detail.runId);
    expect(done.status).toBe('success');
    // The repeats used up no run number.
    const next = await sys.api('POST', `/api/v1/pipelines/${id}/trigger`, { requestId: 'burst-2' });
    expect(answers[0].body.detail.number).toBe(1);
    expect(next.body.detail.number).toBe(2);
    await sys.waitForRun(next.body.detail.runId);
  });
});
