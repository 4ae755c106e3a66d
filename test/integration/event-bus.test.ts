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
  let url: string | undefined;

  beforeAll(async () => {
    const pg = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
    drop = pg?.drop;
    url = pg?.url;
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
      const notice = (id: string) => database.notify('arcentra_status', JSON.stringify({ kind: 'step', id, status: 'running', previousStatus: null }));
      const firstTurn = [notice('before'), database.notify('arcentra_status', 'x'.repeat(9000)), notice('after')];
      await new Promise((r) => setImmediate(r)); // those have left; this one follows them, whatever becomes of them
      const results = await Promise.allSettled([...firstTurn, notice('later')]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      await until('the good events heard', async () => heard.length === 3, { everyMs: 10 });
      expect(heard).toEqual(['before', 'after', 'later']);
    } finally {
      await receiver.close();
    }
  });

  it('tries to listen again after a failed attempt', async () => {
    let attempts = 0;
    const flaky = {
      notify: database.notify,
      listen: (channel: string, f: (payload: string) => void) => (++attempts === 1 ? Promise.reject(new Error('connection refused')) : database.listen(channel, f)),
    };
    const errors: string[] = [];
    const agent = await createDatabaseEventBus(flaky, (err) => errors.push(err.message), { listenNow: false });
    try {
      agent.subscribe(() => undefined);
      await until('the failure reported', async () => errors.length === 1, { everyMs: 10 });
      expect(errors[0]).toBe('could not listen for status events: connection refused');
      const heard: string[] = [];
      agent.subscribe((e) => heard.push(e.id));
      expect(attempts).toBe(2);
      for (let n = 0; heard.length === 0; n++) {
        await agent.publish({ kind: 'step', id: `s${n}`, status: 'running', previousStatus: 'queued' });
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await agent.close();
    }
  });

  it.runIf(kind === 'postgres')('sends what was published before the database closes, in the same turn', async () => {
    const receiver = await createDatabaseEventBus(database);
    const heard: string[] = [];
    receiver.subscribe((e) => heard.push(e.id));
    const own = await openDatabase({ databaseUrl: url, dataDir: tempDir('event-bus-close') });
    try {
      const sent = own.notify('arcentra_status', JSON.stringify({ kind: 'step', id: 'last words', status: 'success', previousStatus: 'running' }));
      await own.close();
      await sent;
      await until('the last notice heard', async () => heard.includes('last words'), { everyMs: 10 });
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
