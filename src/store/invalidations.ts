// Cache invalidation across servers: a key dropped on one server is dropped on all of them. The
// announcing server drops it at once (read-your-writes), the others when the NOTIFY arrives.
import { EventEmitter } from 'node:events';
import type { Database } from './db';

const CHANNEL = 'arcentra_invalidate';

export interface Invalidations {
  announce(key: string): Promise<void>;
  on(listener: (key: string) => void): () => void;
}

export async function createInvalidations(database: Pick<Database, 'notify' | 'listen'>): Promise<Invalidations & { close(): Promise<void> }> {
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const unlisten = await database.listen(CHANNEL, (key) => local.emit('key', key));
  return {
    async announce(key) {
      local.emit('key', key);
      await database.notify(CHANNEL, key);
    },
    on(listener) {
      local.on('key', listener);
      return () => local.off('key', listener);
    },
    close: unlisten,
  };
}

/**
 * A small read cache: entries live at most `ttlMs` (the bound on staleness should a notice be
 * lost), and the map is emptied when it grows past `max`.
 */
export function createReadCache<V>(opts: { ttlMs: number; max: number }) {
  const entries = new Map<string, { value: V; until: number }>();
  return {
    get(key: string): V | undefined {
      const e = entries.get(key);
      if (!e) return undefined;
      if (e.until < Date.now()) {
        entries.delete(key);
        return undefined;
      }
      return e.value;
    },
    set(key: string, value: V) {
      if (entries.size >= opts.max) entries.clear();
      entries.set(key, { value, until: Date.now() + opts.ttlMs });
    },
    delete: (key: string) => entries.delete(key),
    deleteWhere(match: (value: V) => boolean) {
      for (const [k, e] of entries) if (match(e.value)) entries.delete(k);
    },
  };
}
