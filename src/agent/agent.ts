// An agent: a Temporal activity worker on the shared pool queue and on its own per-boot queue.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import type { Db } from '../store/db';
import { agents } from '../store/schema';
import type { TemporalSettings } from '../temporal/temporal-config';
import type { LogTransport } from './log-sink';
import { createShippingLogSink } from './log-sink';
import type { Transitions } from '../store/transitions';
import { newId } from '../ids';
import type { EventBus } from '../events';
import { createStepSuccessions } from './step-succession';
import { createJobSlots } from './job-slots';
import { poolSlotSupplier } from './pool-capacity';
import { createSpawnerLauncher, directLauncher } from './process-spawner';
import { AHEAD_DEPTH, createAgentPoolActivities } from '../../activities/agent-pool';
import type { AgentIdentity } from '../../activities/agent-pool';
import { createStepActivities } from '../../activities/step';
import { loadPluginCatalogue } from '../plugins/catalogue';

export interface AgentOptions {
  connection: NativeConnection;
  namespace: string;
  settings: TemporalSettings;
  db: Db;
  /** How this agent's step logs reach the control plane. */
  logTransport: (agentId: string) => LogTransport;
  events?: EventBus;
  transitions: Transitions;
  dataDir: string;
  name?: string;
  labels?: Record<string, string>;
  onError?: (message: string) => void;
  pluginPath?: string;
  maxConcurrentJobs?: number;
  /** Start step processes from a helper process (src/agent/spawner.mjs) instead of this one. */
  processSpawner?: boolean;
}

export interface RunningAgent {
  identity: AgentIdentity;
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

/** A stable agent id per data dir: the same agent keeps its name and history across restarts. */
async function agentIdFor(dataDir: string): Promise<string> {
  const file = join(dataDir, 'agent-id');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) return existing;
  const id = newId('agent');
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, id + '\n');
  return id;
}

export async function createAgent(opts: AgentOptions): Promise<RunningAgent> {
  const agentId = await agentIdFor(opts.dataDir);
  // A fresh queue per boot: work scheduled for a dead boot times out instead of waiting for it forever.
  const bootId = randomBytes(4).toString('hex');
  const identity: AgentIdentity = {
    agentId,
    name: opts.name ?? `${hostname()}-${agentId.slice(-6)}`,
    labels: { os: process.platform, arch: process.arch, ...(opts.labels ?? {}) },
    taskQueue: `${opts.settings.taskQueues.agentPrefix}/${agentId}/${bootId}`,
  };
  const workspaceRoot = join(opts.dataDir, 'workspaces');
  await mkdir(workspaceRoot, { recursive: true });

  const slots = createJobSlots(opts.maxConcurrentJobs ?? 4);
  const common = { connection: opts.connection, namespace: opts.namespace, shutdownGraceTime: '10s' as const };
  const poolWorker = await Worker.create({
    ...common,
    taskQueue: opts.settings.taskQueues.agentPool,
    activities: createAgentPoolActivities(identity, slots, opts.transitions),
    // Offers are taken only while a job slot is free (the pool worker runs no workflows).
    tuner: {
      activityTaskSlotSupplier: poolSlotSupplier(slots),
      workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
      localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
      nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
    },
  });
  const launcher = opts.processSpawner ? createSpawnerLauncher(opts.onError) : directLauncher;
  const stepWorker = await Worker.create({
    ...common,
    taskQueue: identity.taskQueue,
    activities: createStepActivities({
      agentId,
      workspaceRoot,
      logSink: createShippingLogSink(opts.logTransport(agentId), { onProblem: opts.onError }),
      transitions: opts.transitions,
      successions: createStepSuccessions(),
      plugins: loadPluginCatalogue({ pluginPath: opts.pluginPath }),
      slots,
      killGraceMs: opts.settings.stepActivityMs.killGracePeriod,
      launcher,
    }),
    // A job holds up to 1 + AHEAD_DEPTH steps here at once: the one running, and those dispatched
    // ahead of their turn, waiting for it.
    maxConcurrentActivityTaskExecutions: Math.max(100, (1 + AHEAD_DEPTH) * slots.max + 10),
    // Cancellation reaches an activity through heartbeats; keep that path short so stop is quick.
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
  });

  let reported: 'online' | 'offline' | null = null;
  const beat = async (status: 'online' | 'offline') => {
    await opts.db
      .insert(agents)
      .values({ agentId, name: identity.name, labels: identity.labels, taskQueue: identity.taskQueue, status, runningJobs: slots.size, maxConcurrentJobs: slots.max, lastHeartbeatAt: new Date() })
      .onConflictDoUpdate({
        target: agents.agentId,
        set: { name: identity.name, labels: identity.labels, taskQueue: identity.taskQueue, status, runningJobs: slots.size, maxConcurrentJobs: slots.max, lastHeartbeatAt: sql`now()` },
      });
    if (status !== reported) {
      await opts.events?.publish({ kind: 'agent', id: agentId, agentId, status, previousStatus: reported });
      reported = status;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    identity,
    async run() {
      await beat('online');
      timer = setInterval(() => void beat('online').catch((err: Error) => opts.onError?.(`agent heartbeat to the database failed: ${err.message}`)), 10_000);
      try {
        await Promise.all([poolWorker.run(), stepWorker.run()]);
      } finally {
        await launcher.close();
      }
    },
    async shutdown() {
      clearInterval(timer);
      const stopped = (w: Worker) => (w.getState() === 'RUNNING' ? w.shutdown() : undefined);
      stopped(poolWorker);
      stopped(stepWorker);
      await beat('offline').catch((err: Error) => opts.onError?.(`could not mark the agent offline: ${err.message}`));
    },
  };
}
