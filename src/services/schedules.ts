// Cron triggers as Temporal Schedules (CONTRACT section 10: `pipeline/<pipelineId>/cron/<n>`), kept in
// step with each pipeline's current definition. One sync per pipeline at a time, across servers; a
// reconciler repairs drift both ways (a schedule deleted behind our back, or one left behind).
import { createHash } from 'node:crypto';
import { eq, isNull, sql } from 'drizzle-orm';
import type { Client, ScheduleOptions } from '@temporalio/client';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Database, Db } from '../store/db';
import { pipelines } from '../store/schema';
import { systemPrincipal } from '../roles';
import type { TemporalSettings } from '../temporal/temporal-config';
import type { CompiledTrigger } from '../spec/model';
import type { PipelineService } from './pipelines';
import type { SpecChecker } from './spec-checker';
import type { CronTriggerInput } from '../../workflows/definitions';
import { CRON_TRIGGER_WORKFLOW, cronScheduleId } from '../../workflows/definitions';

type CronTrigger = Extract<CompiledTrigger, { type: 'cron' }>;

interface DesiredSchedule {
  scheduleId: string;
  n: number;
  trigger: CronTrigger;
  paused: boolean;
}

const SYSTEM = systemPrincipal('schedules');
const PREFIX = 'pipeline/';
const DEFAULT_CATCHUP_MS = 60_000;

const OVERLAP: Record<NonNullable<CronTrigger['overlap']>, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  bufferOne: ScheduleOverlapPolicy.BUFFER_ONE,
  bufferAll: ScheduleOverlapPolicy.BUFFER_ALL,
  cancelOther: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminateOther: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allowAll: ScheduleOverlapPolicy.ALLOW_ALL,
};

/** Everything a schedule is made from except its paused state: equal prints, nothing to update. */
function fingerprint(d: DesiredSchedule, controlQueue: string): string {
  const { expression, timezone, variables, overlap, catchupWindowMs } = d.trigger;
  return createHash('sha256').update(JSON.stringify([expression, timezone ?? null, variables, overlap ?? 'skip', catchupWindowMs ?? null, controlQueue, d.n])).digest('hex').slice(0, 32);
}

export interface ScheduleServiceDeps {
  db: Db;
  database: Pick<Database, 'kind'>;
  temporal: Client;
  settings: TemporalSettings;
  pipelines: Pick<PipelineService, 'definitionFor'>;
  specs: SpecChecker;
  logger: Logger;
}

export function createScheduleService(deps: ScheduleServiceDeps) {
  const { db, temporal, settings, logger } = deps;
  const controlQueue = settings.taskQueues.control;
  const chains = new Map<string, Promise<unknown>>();

  /** The schedules this installation made: they start work on its control queue. */
  const ours = (memo: Record<string, unknown> | undefined) => memo?.arcentraControlQueue === controlQueue;

  /**
   * One sync of a pipeline at a time: in this process by a promise chain, across servers by a
   * PostgreSQL advisory lock held for the sync (PGlite serves one process, so the chain suffices).
   */
  function exclusively<T>(pipelineId: string, fn: () => Promise<T>): Promise<T> {
    const previous = chains.get(pipelineId) ?? Promise.resolve();
    const locked = () =>
      deps.database.kind === 'postgres'
        ? db.transaction(async (tx) => {
            await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`arcentra-schedules:${pipelineId}`}))`);
            return fn();
          })
        : fn();
    const next = previous.then(locked, locked);
    const settled = next.catch(() => undefined);
    chains.set(pipelineId, settled);
    void settled.then(() => chains.get(pipelineId) === settled && chains.delete(pipelineId));
    return next;
  }

  /** The schedules a pipeline should have now; null when its definition cannot be read (leave them be). */
  async function desired(pipelineId: string): Promise<DesiredSchedule[] | null> {
    const [row] = await db.select({ enabled: pipelines.enabled, deletedAt: pipelines.deletedAt }).from(pipelines).where(eq(pipelines.pipelineId, pipelineId));
    if (!row || row.deletedAt) return [];
    let compiled;
    try {
      const found = await deps.pipelines.definitionFor(SYSTEM, pipelineId);
      if (!found.definition) return [];
      compiled = deps.specs.compileOrReject(found.definition.spec, found.definition.format);
    } catch (err) {
      logger.warn({ pipelineId, err: (err as Error).message }, 'cannot read the definition; its schedules stay as they are');
      return null;
    }
    return compiled.triggers
      .filter((t): t is CronTrigger => t.type === 'cron')
      .map((trigger, n) => ({ scheduleId: cronScheduleId(pipelineId, n), n, trigger, paused: !row.enabled }));
  }

  function optionsOf(pipelineId: string, d: DesiredSchedule): ScheduleOptions {
    const args: [CronTriggerInput] = [{ pipelineId, n: d.n, variables: d.trigger.variables }];
    return {
      scheduleId: d.scheduleId,
      spec: { cronExpressions: [d.trigger.expression], timezone: d.trigger.timezone },
      // The fingerprint rides on the action, which an update replaces (a schedule's own memo cannot change).
      action: { type: 'startWorkflow', workflowType: CRON_TRIGGER_WORKFLOW, taskQueue: controlQueue, workflowId: d.scheduleId, args, memo: { arcentraFingerprint: fingerprint(d, controlQueue) } },
      policies: { overlap: OVERLAP[d.trigger.overlap ?? 'skip'], catchupWindow: d.trigger.catchupWindowMs ?? DEFAULT_CATCHUP_MS },
      state: { paused: d.paused, note: d.paused ? 'the pipeline is disabled' : undefined },
      memo: { arcentraControlQueue: controlQueue },
    };
  }

  /** Makes one schedule what `d` says, creating it if it is missing. */
  async function apply(pipelineId: string, d: DesiredSchedule): Promise<'created' | 'updated' | 'unchanged'> {
    const handle = temporal.schedule.getHandle(d.scheduleId);
    const wanted = optionsOf(pipelineId, d);
    let current;
    try {
      current = await handle.describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      await temporal.schedule.create(wanted);
      return 'created';
    }
    const currentPrint = (current.action as { memo?: Record<string, unknown> }).memo?.arcentraFingerprint;
    if (currentPrint !== wanted.action.memo!.arcentraFingerprint) {
      // One update for everything, paused state included: two separate changes could be applied out of order.
      await handle.update((prev) => ({ ...prev, spec: wanted.spec, action: wanted.action, policies: wanted.policies, state: { ...prev.state, ...wanted.state } }) as never);
      return 'updated';
    }
    if (current.state.paused === d.paused) return 'unchanged';
    await (d.paused ? handle.pause('the pipeline is disabled') : handle.unpause('the pipeline is enabled'));
    return 'updated';
  }

  async function deleteSchedule(scheduleId: string): Promise<boolean> {
    try {
      await temporal.schedule.getHandle(scheduleId).delete();
      return true;
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return false;
      throw err;
    }
  }

  async function syncNow(pipelineId: string) {
    const want = await desired(pipelineId);
    if (want === null) return { created: 0, updated: 0, deleted: 0, desired: null };
    const counts = { created: 0, updated: 0, deleted: 0, desired: want.length };
    for (const d of want) {
      const done = await apply(pipelineId, d);
      if (done !== 'unchanged') counts[done]++;
    }
    // Above the wanted ones: delete upward until one is missing (the reconciler's list finds any beyond a gap).
    for (let n = want.length; ; n++) {
      if (!(await deleteSchedule(cronScheduleId(pipelineId, n)))) break;
      counts.deleted++;
    }
    return counts;
  }

  return {
    /** Brings a pipeline's schedules in line with its current definition, enablement and existence. */
    sync(pipelineId: string) {
      return exclusively(pipelineId, () => syncNow(pipelineId));
    },

    /**
     * Repairs drift both ways: every live pipeline's schedules are synced (a missing one is made
     * again), and every schedule of ours whose pipeline is gone, or whose trigger no longer exists,
     * is deleted.
     */
    async reconcile(): Promise<{ created: number; updated: number; deleted: number }> {
      const totals = { created: 0, updated: 0, deleted: 0 };
      const wantedCount = new Map<string, number | null>();
      const live = await db.select({ pipelineId: pipelines.pipelineId }).from(pipelines).where(isNull(pipelines.deletedAt));
      for (const { pipelineId } of live) {
        try {
          const r = await this.sync(pipelineId);
          totals.created += r.created;
          totals.updated += r.updated;
          totals.deleted += r.deleted;
          wantedCount.set(pipelineId, r.desired);
        } catch (err) {
          logger.warn({ pipelineId, err: (err as Error).message }, 'could not sync the schedules of a pipeline');
          wantedCount.set(pipelineId, null);
        }
      }
      for await (const summary of temporal.schedule.list()) {
        const m = /^pipeline\/(.+)\/cron\/(\d+)$/.exec(summary.scheduleId);
        if (!m || !summary.scheduleId.startsWith(PREFIX) || !ours(summary.memo)) continue;
        const [, pipelineId, n] = m;
        const wanted = wantedCount.has(pipelineId) ? wantedCount.get(pipelineId) : 0;
        if (wanted === null || wanted === undefined || Number(n) < wanted) continue;
        const removed = await exclusively(pipelineId, () => deleteSchedule(summary.scheduleId));
        if (removed) totals.deleted++;
      }
      return totals;
    },
  };
}

export type ScheduleService = ReturnType<typeof createScheduleService>;
