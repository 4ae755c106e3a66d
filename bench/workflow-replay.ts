// Benchmark: the CPU our workflow code costs per step, without the machine's noise. Replays a
// recorded JobRun history (50 `true` steps, three deep) and, as the baseline, the floor's history
// (a bare workflow running 50 no-op activities), alternating, in this process. Replay feeds the
// workflow the activations of its history, in a reused V8 context as a live worker does (the SDK's
// promise hooks included), but in this thread and with no server or agent.
// The histories come from `BENCH_SAVE_HISTORIES=bench/fixtures npx tsx bench/run.ts orchestration`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Runtime, Worker } from '@temporalio/worker';
import type { WorkflowBundle } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { cachedWorkflowBundle } from '../src/worker/workflow-bundle';
import { FLOOR_HISTORY_FILE, JOB_HISTORY_FILE, bundleFloorWorkflow, median, quiet } from './orchestration';

const STEPS = 50;

const history = (file: string) => historyFromJSON(JSON.parse(readFileSync(fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url)), 'utf8')));

/** CPU (ms) this process spends replaying `n` copies of the history; a replay that fails throws. */
async function replayCpuMs(bundle: WorkflowBundle | { codePath: string }, recorded: ReturnType<typeof history>, n: number): Promise<number> {
  const before = process.cpuUsage();
  const histories = Array.from({ length: n }, (_, i) => ({ workflowId: `replay-${i}`, history: recorded }));
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) if (result.error) throw result.error;
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

export async function benchWorkflowReplay(rounds = 5, perRound = 20) {
  // After another benchmark (`npm run bench`), the Runtime is there already.
  if (!Runtime._instance) Runtime.install({ logger: quiet as never });
  // Replay runs the workflows in this thread, where tsx turned source maps on: each function the
  // SDK compiles per promise (to find the promise's workflow) was then searched for a source-map
  // comment. A live worker's workflow thread has them off.
  process.setSourceMapsEnabled(false);
  const ours = { bundle: await cachedWorkflowBundle(), history: history(JOB_HISTORY_FILE) };
  const floor = {
    bundle: await bundleFloorWorkflow(),
    history: history(FLOOR_HISTORY_FILE),
  };
  // Warm-ups: the JIT, and each bundle's context.
  await replayCpuMs(ours.bundle, ours.history, perRound);
  await replayCpuMs(floor.bundle, floor.history, perRound);
  const oursMs: number[] = [];
  const floorMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    oursMs.push((await replayCpuMs(ours.bundle, ours.history, perRound)) / perRound / STEPS);
    floorMs.push((await replayCpuMs(floor.bundle, floor.history, perRound)) / perRound / STEPS);
  }
  return {
    name: 'workflow-replay',
    what: 'CPU per step of replaying the JobRun history against the floor workflow’s, same process',
    replaysPerRound: perRound,
    rounds,
    oursCpuMsPerStep: +median(oursMs).toFixed(2),
    floorCpuMsPerActivity: +median(floorMs).toFixed(2),
    ratioToFloor: +(median(oursMs) / median(floorMs)).toFixed(2),
  };
}
