// Opens the database (embedded PGlite in the data dir, or PostgreSQL) and applies the drizzle migrations.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { MIGRATIONS_FOLDER } from '../paths';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  ping(): Promise<void>;
  /**
   * Notifications between processes (PostgreSQL NOTIFY/LISTEN). The embedded database serves one
   * process only, so there they stay in-process. Payloads are small references (< 8000 bytes).
   */
  notify(channel: string, payload: string): Promise<void>;
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export { MIGRATIONS_FOLDER };
// Held while migrating so that many servers starting at once migrate one at a time.
const MIGRATION_LOCK_ID = 0x4152_4345;

export async function openDatabase(opts: { databaseUrl?: string; dataDir: string; migrate?: boolean }): Promise<Database> {
  const migrate = opts.migrate ?? true;
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, migrate);
  return openPglite(join(opts.dataDir, 'pgdata'), migrate);
}

async function openPostgres(url: string, runMigrations: boolean): Promise<Database> {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const sql = postgres(url, { max: 10, onnotice: () => undefined });
  if (runMigrations) {
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    // One connection, so the advisory lock and the migration share a session.
    const single = postgres(url, { max: 1, onnotice: () => undefined });
    try {
      await single`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
      await migrate(drizzle(single), { migrationsFolder: MIGRATIONS_FOLDER });
      await single`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    } finally {
      await single.end({ timeout: 5 });
    }
  }
  const db = drizzle(sql, { schema }) as unknown as Db;
  // LISTEN needs a session of its own; postgres.js opens it on first use and re-listens after a reconnect.
  const listener = postgres(url, { max: 1, onnotice: () => undefined });
  // Notices go out on one session of their own, one statement at a time, so they leave in the
  // order they were sent. Those sent meanwhile (in one turn of the event loop, or while the
  // statement before was out: a step's end and the next step's start) leave together, in order.
  const notifier = postgres(url, { max: 1, onnotice: () => undefined });
  type Notice = { channel: string; payload: string; settle: (err?: unknown) => void };
  let waiting: Notice[] = [];
  let sending: Promise<void> | null = null;
  const send = async (group: Notice[]) => {
    try {
      await notifier`select pg_notify(c, p) from unnest(${group.map((n) => n.channel)}::text[], ${group.map((n) => n.payload)}::text[]) as t(c, p)`;
      for (const n of group) n.settle();
    } catch (err) {
      if (group.length === 1) return group[0].settle(err);
      // One bad notice (too long, say) must not take the others with it: each on its own, in order.
      for (const n of group) await notifier`select pg_notify(${n.channel}, ${n.payload})`.then(() => n.settle(), n.settle);
    }
  };
  const sendAll = async () => {
    while (waiting.length > 0) {
      const group = waiting;
      waiting = [];
      await send(group);
    }
    sending = null;
  };
  return {
    db,
    kind: 'postgres',
    ping: async () => {
      await sql`select 1`;
    },
    notify: (channel, payload) =>
      new Promise<void>((resolve, reject) => {
        waiting.push({ channel, payload, settle: (err) => (err === undefined ? resolve() : reject(err)) });
        sending ??= new Promise((turnEnds) => setImmediate(turnEnds)).then(sendAll);
      }),
    listen: async (channel, onPayload) => {
      const { unlisten } = await listener.listen(channel, onPayload);
      return unlisten;
    },
    close: async () => {
      await sending; // what was sent before leaves first
      await Promise.all([sql.end({ timeout: 5 }), notifier.end({ timeout: 5 }), listener.end({ timeout: 1 })]);
    },
  };
}

async function openPglite(dir: string, runMigrations: boolean): Promise<Database> {
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const client = await PGlite.create(dir);
  const db = drizzle(client, { schema });
  if (runMigrations) {
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  }
  const local = new EventEmitter();
  local.setMaxListeners(0);
  return {
    db: db as unknown as Db,
    kind: 'pglite',
    ping: async () => {
      await client.query('select 1');
    },
    notify: async (channel, payload) => {
      local.emit(channel, payload);
    },
    listen: async (channel, onPayload) => {
      local.on(channel, onPayload);
      return async () => void local.off(channel, onPayload);
    },
    close: () => client.close(),
  };
}
