// Replays committed workflow histories against today's workflow code: a non-deterministic change fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it, inject } from 'vitest';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';

const DIR = join(process.cwd(), 'test', 'fixtures', 'replay');
/** Histories the benchmarks replay (bench/workflow-replay.ts): they must keep replaying too. */
const BENCH_DIR = join(process.cwd(), 'bench', 'fixtures');

describe('workflow replay', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('replays %s without non-determinism', async (file) => {
    await replay(join(DIR, file));
  });

  it('replays the JobRun history the workflow-replay benchmark replays', async () => {
    await replay(join(BENCH_DIR, 'job-run-50-steps.json'));
  });

  async function replay(path: string) {
    const file = basename(path);
    const history = historyFromJSON(JSON.parse(readFileSync(path, 'utf8')));
    const workflowId = file.replace(/\.json$/, '');
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, workflowId);
  }
});
