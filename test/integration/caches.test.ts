// Two servers' read caches over one PostgreSQL: a token revoked or a pipeline changed on one server
// is no longer served from the other's cache once the notice arrives (and at once on the first).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db';
import type { Database } from '../../src/store/db';
import { createInvalidations } from '../../src/store/invalidations';
import { createTokenService } from '../../src/services/tokens';
import { createPipelineService } from '../../src/services/pipelines';
import { createSpecChecker } from '../../src/services/spec-checker';
import { loadPluginCatalogue } from '../../src/plugins/catalogue';
import { pipelineRuns } from '../../src/store/schema';
import { freshPostgresDatabase, tempDir } from '../support/databases';

const ADMIN = { tokenId: 't', name: 'admin', role: 'admin' as const, projectIds: null };

async function eventually(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never: ${what}`);
}

describe('read caches across two servers', () => {
  let drop: () => Promise<void>;
  const servers: Array<{ database: Database; tokens: ReturnType<typeof createTokenService>; pipelines: ReturnType<typeof createPipelineService>; close(): Promise<void> }> = [];

  beforeAll(async () => {
    const pg = await freshPostgresDatabase();
    drop = pg.drop;
    const specs = createSpecChecker(loadPluginCatalogue());
    for (let i = 0; i < 2; i++) {
      const database = await openDatabase({ databaseUrl: pg.url, dataDir: tempDir('caches') });
      const invalidations = await createInvalidations(database);
      servers.push({
        database,
        tokens: createTokenService(database.db, invalidations),
        pipelines: createPipelineService(database.db, specs, { invalidations }),
        close: async () => {
          await invalidations.close();
          await database.close();
        },
      });
    }
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await drop?.();
  });

  it('stops accepting a revoked token on both servers', async () => {
    const [a, b] = servers;
    const { token, tokenId } = await a.tokens.create({ name: 'ci', role: 'viewer' });
    expect(await a.tokens.authenticate(token)).toMatchObject({ tokenId });
    expect(await b.tokens.authenticate(token)).toMatchObject({ tokenId }); // now cached on b
    await a.tokens.revoke(tokenId);
    expect(await a.tokens.authenticate(token)).toBeNull();
    await eventually(async () => (await b.tokens.authenticate(token)) === null, 'b refuses the revoked token');
  });

  it('refuses an expired token from the cache too', async () => {
    const [a] = servers;
    const { token } = await a.tokens.create({ name: 'short', role: 'viewer', expiresAt: new Date(Date.now() + 300) });
    expect(await a.tokens.authenticate(token)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 350));
    expect(await a.tokens.authenticate(token)).toBeNull();
  });

  it('shows a pipeline change and a new run on the other server', async () => {
    const [a, b] = servers;
    const p = await a.pipelines.create(ADMIN, { projectId: 'c', name: 'before', spec: { namespace: 'n', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 's', run: 'true' }] }] } });
    expect((await b.pipelines.get(ADMIN, p.pipelineId)).name).toBe('before');
    await a.pipelines.update(ADMIN, p.pipelineId, { name: 'after' });
    expect((await a.pipelines.get(ADMIN, p.pipelineId)).name).toBe('after');
    await eventually(async () => (await b.pipelines.get(ADMIN, p.pipelineId)).name === 'after', 'b shows the new name');
    // A project-limited principal is still refused from the cache.
    await expect(b.pipelines.get({ ...ADMIN, projectIds: ['other'] }, p.pipelineId)).rejects.toThrow(/not found/);
    // A run recorded elsewhere reaches the view once its pipeline is announced as changed.
    await a.database.db.insert(pipelineRuns).values({ runId: 'run_c1', pipelineId: p.pipelineId, projectId: 'c', number: 1, status: 'pending', triggerType: 'manual', workflowId: 'w' });
    await a.pipelines.changed(p.pipelineId);
    await eventually(async () => (await b.pipelines.get(ADMIN, p.pipelineId)).lastRun?.runId === 'run_c1', 'b shows the new run');
    await a.pipelines.remove(ADMIN, p.pipelineId, true);
    await eventually(() => b.pipelines.get(ADMIN, p.pipelineId).then(() => false, () => true), 'b no longer shows the deleted pipeline');
  });
});
