// Reading stored step log lines: chunk rows of up to a batch of lines each, in line order.
import { and, desc, eq, gt, gte } from 'drizzle-orm';
import type { Db } from './db';
import { logChunks } from './schema';

export interface LogLine {
  line: number;
  timestamp: string;
  stream: 'stdout' | 'stderr' | 'system';
  content: string;
}

/** The most lines one stored chunk may hold (the ingest refuses bigger batches). */
export const MAX_CHUNK_LINES = 1000;

/** Up to `limit` lines from `fromLine` on. */
export async function readStepLogs(db: Db, stepRunId: string, fromLine: number, limit: number): Promise<LogLine[]> {
  const rows = await db
    .select({ lastLine: logChunks.lastLine, lines: logChunks.lines })
    .from(logChunks)
    // A chunk holds at most MAX_CHUNK_LINES lines: bounding first_line lets the (step, first_line)
    // index start near fromLine, so the end of a million-line log costs what its start does.
    .where(and(eq(logChunks.stepRunId, stepRunId), gt(logChunks.firstLine, fromLine - MAX_CHUNK_LINES), gte(logChunks.lastLine, fromLine)))
    .orderBy(logChunks.firstLine)
    .limit(limit); // every chunk holds at least one line
  const out: LogLine[] = [];
  for (const row of rows) {
    for (const [line, meta, content] of row.lines) {
      if (line < fromLine) continue;
      const space = meta.indexOf(' ');
      out.push({ line, timestamp: meta.slice(0, space), stream: meta.slice(space + 1) as LogLine['stream'], content });
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/** The number of the last line stored for a step (0: none yet). */
export async function lastStoredLine(db: Db, stepRunId: string): Promise<number> {
  // Chunks are contiguous: the last one starts last, found backwards on the (step, first_line) index.
  const [last] = await db.select({ lastLine: logChunks.lastLine }).from(logChunks).where(eq(logChunks.stepRunId, stepRunId)).orderBy(desc(logChunks.firstLine)).limit(1);
  return last?.lastLine ?? 0;
}
