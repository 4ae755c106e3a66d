// Reading stored step log lines: chunk rows of up to a batch of lines each, in line order.
import { and, eq, gte } from 'drizzle-orm';
import type { Db } from './db';
import { logChunks } from './schema';

export interface LogLine {
  line: number;
  timestamp: string;
  stream: 'stdout' | 'stderr' | 'system';
  content: string;
}

/** Up to `limit` lines from `fromLine` on. */
export async function readStepLogs(db: Db, stepRunId: string, fromLine: number, limit: number): Promise<LogLine[]> {
  const rows = await db
    .select({ lastLine: logChunks.lastLine, lines: logChunks.lines })
    .from(logChunks)
    .where(and(eq(logChunks.stepRunId, stepRunId), gte(logChunks.lastLine, fromLine)))
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
