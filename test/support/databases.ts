// Real databases for tests: a fresh PostgreSQL database per suite, or a fresh PGlite directory.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { randomBytes } from 'node:crypto';

export type DbKind = 'pglite' | 'postgres';
export const DB_KINDS: DbKind[] = ['pglite', 'postgres'];

/** Base URL of the PostgreSQL server the machine and CI have; DATABASE_URL overrides it. */
export const POSTGRES_BASE_URL = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';

export function tempDir(prefix: string): string {
  const root = join(process.cwd(), '.test-data');
  return mkdtempSync(join(root, `${prefix}-`));
}

/** Creates an empty database on the PostgreSQL server and returns its URL and a dropper. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `arc_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(POSTGRES_BASE_URL, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_BASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(POSTGRES_BASE_URL, { max: 1, onnotice: () => undefined });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
