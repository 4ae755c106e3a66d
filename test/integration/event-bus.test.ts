// The status event bus on a real database: servers hear every event at once; an agent, which only
// publishes, starts listening only if something in it subscribes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusEvent } from '../../src/events';
import { createDatabaseEventBus } from '../../src/events';
import type { Database } from '../../src/store/db';
import { openDatabase } from '../../src/store/db';
import { DB_KINDS, freshPostgresDatabase, tempDir } from '../support/databases';
import { until } from '../support/until';

describe.each(DB_KINDS)('event bus on %s', (kind) => {
  let database: Database;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const pg = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
    drop = pg?.drop;
    database = await openDatabase({ databaseUrl: pg?.url, dataDir: tempDir('event-bus') });
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it('delivers the events of one turn, sent together, in the order they were published', async () => {
    const sender = await createDatabaseEventBus(database, undefined, { listenNow: false });
    const receiver = await createDatabaseEventBus(database);
    try {
      const heard: string[] = [];
      receiver.subscribe((e) => heard.push(e.id));
      const ids = Array.from({ length: 25 }, (_, n) => `step_${n}`);
      await Promise.all(ids.map((id) => sender.publish({ kind: 'step', id, status: 'running', previousStatus: 'queued' })));
      for (const id of ids.slice(0, 5)) await sender.publish({ kind: 'step', id: `later_${id}`, status: 'success', previousStatus: 'running' });
      await until('every event heard', async () => heard.length === 30, { everyMs: 10 });
      expect(heard).toEqual([...ids, ...ids.slice(0, 5).map((id) => `later_${id}`)]);
    } finally {
      await sender.close();
      await receiver.close();
    }
  });

  it.runIf(kind === 'postgres')('sends the other events of a turn when one of them cannot be sent', async () => {
    const heard: string[] = [];
    const receiver = await createDatabaseEventBus(database);
    receiver.subscribe((e) => heard.push(e.id));
    try {
      const results = await Promise.allSettled([database.notify('arcentra_status', JSON.stringify({ kind: 'step', id: 'before', status: 'running', previousStatus: null })), database.notify('arcentra_status', 'x'.repeat(9000)), database.notify('arcentra_status', JSON.stringify({ kind: 'step', id: 'after', status: 'running', previousStatus: null }))]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      await until('both good events heard', async () => heard.length === 2, { everyMs: 10 });
      expect(heard).toEqual(['before', 'after']);
    } finally {
      await receiver.close();
    }
  });

  it("carries an agent's events to a server, and listens in the agent only once it subscribes", async () => {
    let agentListens = 0;
    const agentSide = { notify: database.notify, listen: (channel: string, f: (payload: string) => void) => (agentListens++, database.listen(channel, f)) };
    const server = await createDatabaseEventBus(database);
    const agent = await createDatabaseEventBus(agentSide, undefined, { listenNow: false });
    try {
      const heard: StatusEvent[] = [];
      server.subscribe((e) => heard.push(e));
      await agent.publish({ kind: 'step', id: 'step_1', runId: 'run_1', status: 'running', previousStatus: 'queued' });
      await until('the server to hear it', async () => heard.length === 1, { everyMs: 10 });
      expect(heard[0]).toMatchObject({ kind: 'step', id: 'step_1', status: 'running', previousStatus: 'queued' });
      expect(heard[0].timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(agentListens).toBe(0);

      const heardByAgent: string[] = [];
      agent.subscribe((e) => heardByAgent.push(e.id));
      agent.subscribe((e) => heardByAgent.push(`again ${e.id}`));
      expect(agentListens).toBe(1);
      // Listening takes a round trip: publish until the agent hears, then exactly what came after.
      for (let n = 2; heardByAgent.length === 0; n++) {
        await server.publish({ kind: 'step', id: `step_${n}`, status: 'success', previousStatus: 'running' });
        await new Promise((r) => setTimeout(r, 20));
      }
      await until('both to hear', async () => heard.length >= 2 && heardByAgent.length >= 2, { everyMs: 10 });
      expect(heardByAgent.filter((id) => id.startsWith('again')).length).toBe(heardByAgent.length / 2);
    } finally {
      await agent.close();
      await server.close();
    }
  });
});
