// Where an agent's step log lines go: numbered, batched, out of band of Temporal's history.
import { and, desc, eq, gte } from 'drizzle-orm';
import type { Db } from '../store/db';
import { logChunks } from '../store/schema';
import type { SecretMasker } from './secret-masker';

export interface LogLine {
  line: number;
  timestamp: string;
  stream: 'stdout' | 'stderr' | 'system';
  content: string;
}

export interface StepLogWriter {
  write(stream: LogLine['stream'], content: string): void;
  /** Flushes everything written so far; resolves when it is stored. */
  close(): Promise<void>;
  readonly linesWritten: number;
}

export interface LogSink {
  open(stepRunId: string, masker: SecretMasker): Promise<StepLogWriter>;
}

const BATCH_LINES = 500;
const FLUSH_MS = 100;

/** Stores lines in the database as chunks of up to 500 lines (used in-process by the control plane). */
export function createDbLogSink(db: Db): LogSink {
  return {
    async open(stepRunId, masker) {
      // A re-dispatched step continues numbering after the lines already stored.
      const [last] = await db
        .select({ lastLine: logChunks.lastLine })
        .from(logChunks)
        .where(eq(logChunks.stepRunId, stepRunId))
        .orderBy(desc(logChunks.lastLine))
        .limit(1);
      let next = (last?.lastLine ?? 0) + 1;
      let pending: Array<[number, string, string]> = [];
      let written = 0;
      let chain: Promise<void> = Promise.resolve();
      let timer: NodeJS.Timeout | undefined;
      let failure: unknown;

      const flush = () => {
        clearTimeout(timer);
        timer = undefined;
        if (pending.length === 0) return;
        const batch = pending;
        pending = [];
        chain = chain.then(async () => {
          try {
            await db
              .insert(logChunks)
              .values({ stepRunId, firstLine: batch[0][0], lastLine: batch[batch.length - 1][0], lines: batch })
              .onConflictDoNothing();
          } catch (err) {
            failure ??= err;
          }
        });
      };
      return {
        write(stream, content) {
          pending.push([next++, `${new Date().toISOString()} ${stream}`, masker.mask(content)]);
          written++;
          if (pending.length >= BATCH_LINES) flush();
          else timer ??= setTimeout(flush, FLUSH_MS);
        },
        async close() {
          flush();
          await chain;
          if (failure) throw failure;
        },
        get linesWritten() {
          return written;
        },
      };
    },
  };
}

export async function readStepLogs(db: Db, stepRunId: string, fromLine: number, limit: number): Promise<LogLine[]> {
  const rows = await db
    .select()
    .from(logChunks)
    .where(and(eq(logChunks.stepRunId, stepRunId), gte(logChunks.lastLine, fromLine)))
    .orderBy(logChunks.firstLine)
    .limit(limit); // every chunk holds at least one line
  const out: LogLine[] = [];
  for (const row of rows) {
    if (row.lastLine < fromLine) continue;
    for (const [line, meta, content] of row.lines) {
      if (line < fromLine) continue;
      const space = meta.indexOf(' ');
      out.push({ line, timestamp: meta.slice(0, space), stream: meta.slice(space + 1) as LogLine['stream'], content });
      if (out.length >= limit) return out;
    }
  }
  return out;
}
