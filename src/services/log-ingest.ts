// Where step log lines enter the control plane: an agent appends numbered batches for the steps of
// the jobs it holds. A batch is stored whole or not at all, only right after the line before it, so
// a resent batch is a no-op and the stored log has no gap; each stored batch is announced (by
// reference) to every replica.
import { and, eq, sql } from 'drizzle-orm';
import type { Database, Db } from '../store/db';
import { jobRuns, logChunks, stepRuns } from '../store/schema';
import { isFinal } from '../statuses';
import { MAX_CHUNK_LINES } from '../store/log-store';

/** One stored line: [line number, "<ISO time> <stream>", content]. */
export type StoredLine = [number, string, string];

export interface LogBatch {
  firstLine: number;
  lines: StoredLine[];
}

export type AppendResult =
  /** Stored now, or already stored by an earlier send of the same batch. */
  | { ok: true; storedThrough: number; duplicate: boolean }
  /** Not stored, and resending cannot change that (agents send a step's batches one at a time, so a gap is a bug). */
  | { ok: false; reason: 'not_owner' | 'step_final' | 'bad_batch' | 'gap'; message: string };

export const LOG_CHANNEL = 'arcentra_logs';
export const MAX_BATCH_LINES = MAX_CHUNK_LINES;

export interface LogIngest {
  /** The next line number an agent should write for this step (after lines of earlier attempts). */
  open(agentId: string, stepRunId: string): Promise<{ ok: true; nextLine: number } | Extract<AppendResult, { ok: false }>>;
  append(agentId: string, stepRunId: string, batch: LogBatch): Promise<AppendResult>;
}

const META = /^\d{4}-\d\d-\d\dT[\d:.]+Z (stdout|stderr|system)$/;

function checkBatch(batch: LogBatch): string | null {
  if (!Number.isSafeInteger(batch.firstLine) || batch.firstLine < 1) return 'firstLine must be a positive integer';
  if (!Array.isArray(batch.lines) || batch.lines.length === 0 || batch.lines.length > MAX_BATCH_LINES) return `lines must hold 1 to ${MAX_BATCH_LINES} lines`;
  for (let i = 0; i < batch.lines.length; i++) {
    const l = batch.lines[i];
    if (!Array.isArray(l) || l.length !== 3 || l[0] !== batch.firstLine + i || typeof l[1] !== 'string' || !META.test(l[1]) || typeof l[2] !== 'string') {
      return `lines[${i}] must be [${batch.firstLine + i}, "<ISO time> <stdout|stderr|system>", "<content>"]`;
    }
    if (l[2].includes('\u0000') || !l[2].isWellFormed()) return `lines[${i}] content must be text without NUL characters or unpaired surrogates`;
  }
  return null;
}

export function createLogIngest({ db, database }: { db: Db; database: Pick<Database, 'notify'> }): LogIngest {
  /** Refuses a step this agent does not hold, or one already final; else says where its log ends. */
  async function ownership(agentId: string, stepRunId: string) {
    const [row] = await db
      .select({
        status: stepRuns.status,
        holder: jobRuns.agentId,
        // Read in the same statement: a retried attempt continues the step's numbering.
        // (Chunks are contiguous: the last one starts last, found backwards on the (step, first_line) index.)
        lastLine: sql<number>`coalesce((select c.last_line from log_chunks c where c.step_run_id = ${stepRunId} order by c.first_line desc limit 1), 0)`,
      })
      .from(stepRuns)
      .innerJoin(jobRuns, eq(jobRuns.jobRunId, stepRuns.jobRunId))
      .where(eq(stepRuns.stepRunId, stepRunId));
    if (!row || row.holder !== agentId) return { ok: false as const, reason: 'not_owner' as const, message: `step ${stepRunId} belongs to a job this agent does not hold` };
    if (isFinal(row.status)) return { ok: false as const, reason: 'step_final' as const, message: `step ${stepRunId} is already ${row.status}; its log is closed` };
    return { ok: true as const, lastLine: Number(row.lastLine) };
  }

  return {
    async open(agentId, stepRunId) {
      const owned = await ownership(agentId, stepRunId);
      if (!owned.ok) return owned;
      return { ok: true, nextLine: owned.lastLine + 1 };
    },

    async append(agentId, stepRunId, batch) {
      const bad = checkBatch(batch);
      if (bad) return { ok: false, reason: 'bad_batch', message: bad };
      const lastLine = batch.firstLine + batch.lines.length - 1;
      // One statement: stored only if this agent holds the step's unfinished job and the batch
      // continues the stored log exactly; a resend of a stored batch conflicts and does nothing.
      const inserted = await db.execute(sql`
        insert into log_chunks (step_run_id, first_line, last_line, lines)
        select ${stepRunId}, ${batch.firstLine}, ${lastLine}, ${JSON.stringify(batch.lines)}::jsonb
        where exists (
          select 1 from step_runs s join job_runs j on j.job_run_id = s.job_run_id
          where s.step_run_id = ${stepRunId} and j.agent_id = ${agentId}
            and s.status not in ('success', 'failed', 'cancelled', 'timeout', 'skipped'))
        and (${batch.firstLine} = 1 or exists (
          select 1 from log_chunks c where c.step_run_id = ${stepRunId} and c.last_line = ${batch.firstLine - 1}))
        on conflict (step_run_id, first_line) do nothing
        returning first_line`);
      const rows = (inserted as unknown as { rows?: unknown[] }).rows ?? (inserted as unknown as unknown[]);
      if (rows.length === 1) {
        await database.notify(LOG_CHANNEL, `${stepRunId} ${lastLine}`);
        return { ok: true, storedThrough: lastLine, duplicate: false };
      }
      const [existing] = await db
        .select({ lastLine: logChunks.lastLine })
        .from(logChunks)
        .where(and(eq(logChunks.stepRunId, stepRunId), eq(logChunks.firstLine, batch.firstLine)));
      if (existing) {
        if (existing.lastLine === lastLine) return { ok: true, storedThrough: lastLine, duplicate: true };
        return { ok: false, reason: 'bad_batch', message: `lines ${batch.firstLine}-${existing.lastLine} are already stored with other boundaries` };
      }
      const owned = await ownership(agentId, stepRunId);
      if (!owned.ok) return owned;
      return { ok: false, reason: 'gap', message: `batch starts at line ${batch.firstLine}; the log continues at line ${owned.lastLine + 1}` };
    },
  };
}
