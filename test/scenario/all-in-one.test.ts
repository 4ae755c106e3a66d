// `arcentra all` as a process group: start, run, kill -9 mid-step, start again; and clear startup failures.
import { createServer } from 'node:net';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, Client } from '@temporalio/client';
import { tempDir } from '../support/databases';
import { freePorts, killGroup, processesMatching, spawnArcentra } from '../support/process';
import type { ArcentraProcess } from '../support/process';

const TOKEN = 'scenario-admin-token-0123456789';
const running: ArcentraProcess[] = [];

afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      killGroup(p.child, 'SIGKILL');
      await p.exited;
    }
  }
});

async function api(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('arcentra all', () => {
  it('survives kill -9 of the whole process group mid-step: the same run finishes success', async () => {
    const dataDir = tempDir('all-in-one');
    const [port, tport, uiPort] = await freePorts(3);
    const env = {
      ARCENTRA_DATA_DIR: dataDir,
      PORT: String(port),
      ARCENTRA_TEMPORAL_PORT: String(tport),
      ARCENTRA_TEMPORAL_UI_PORT: String(uiPort),
      ARCENTRA_ADMIN_TOKEN: TOKEN,
    };
    const base = `http://127.0.0.1:${port}`;
    const marker = join(dataDir, 'first-step-runs');

    const first = spawnArcentra(env);
    running.push(first);
    await first.ready;
    expect(first.stdout()).toContain(`http://127.0.0.1:${port}`);
    expect(first.stdout()).toContain(`http://127.0.0.1:${uiPort}`);
    expect((await fetch(base + '/readyz')).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);

    const created = await api(base, 'POST', '/api/v1/pipelines', {
      projectId: 'demo',
      name: 'durable',
      spec: {
        namespace: 'demo',
        version: 'v1',
        stages: [
          { name: 'one', jobs: [{ name: 'first', steps: [{ name: 'mark', run: `echo ran >> '${marker}'` }] }] },
          { name: 'two', jobs: [{ name: 'slow', steps: [{ name: 'sleep', run: 'sleep 20; echo slept' }, { name: 'after', run: 'echo after' }] }] },
        ],
      },
    });
    expect(created.status).toBe(200);
    const trig = await api(base, 'POST', `/api/v1/pipelines/${created.body.detail.pipelineId}/trigger`, {});
    const runId = trig.body.detail.runId;
    await waitFor(
      'the sleep step to run',
      async () => {
        const r = await api(base, 'GET', `/api/v1/pipelines/runs/${runId}`);
        return r.body.detail.stages[1].jobs[0].steps[0].status === 'running' ? true : undefined;
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    killGroup(first.child, 'SIGKILL');
    await first.exited;

    const second = spawnArcentra(env);
    running.push(second);
    await second.ready;
    expect(second.stdout()).not.toContain('Admin token:');
    const run = await waitFor(
      'the run to finish',
      async () => {
        const r = await api(base, 'GET', `/api/v1/pipelines/runs/${runId}`);
        return ['success', 'failed', 'cancelled', 'partial'].includes(r.body.detail.status) ? r.body.detail : undefined;
      },
      150_000,
    );
    expect(run.status).toBe('success');
    expect(readFileSync(marker, 'utf8')).toBe('ran\n'); // the finished step never ran again
    const slow = run.stages[1].jobs[0];
    expect(slow.steps.map((s: any) => s.status)).toEqual(['success', 'success']);
    expect(slow.attempt).toBe(2); // dispatched once more after its agent was lost

    const connection = await Connection.connect({ address: `127.0.0.1:${tport}` });
    const client = new Client({ connection });
    const ids: string[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = "pipeline-run/${runId}"` })) ids.push(wf.workflowId);
    expect(ids).toEqual([`pipeline-run/${runId}`]);
    await connection.close();

    killGroup(second.child, 'SIGTERM');
    expect(await second.exited).toBe(0);
    expect(await processesMatching(dataDir)).toEqual([]);
  }, 300_000);

  it('names a busy port in one line, exits non-zero and leaves no child behind', async () => {
    const dataDir = tempDir('busy-port');
    const [port, tport, uiPort] = await freePorts(3);
    const holder = createServer().listen(port, '0.0.0.0');
    try {
      const p = spawnArcentra({ ARCENTRA_DATA_DIR: dataDir, PORT: String(port), ARCENTRA_TEMPORAL_PORT: String(tport), ARCENTRA_TEMPORAL_UI_PORT: String(uiPort) });
      running.push(p);
      expect(await p.exited).toBe(1);
      expect(p.stderr().trim()).toBe(`arcentra: port ${port} (PORT) is already in use: stop what holds it or set PORT`);
      expect(await processesMatching(dataDir)).toEqual([]);
    } finally {
      holder.close();
    }
  }, 60_000);

  it('names a Temporal CLI that fails, exits non-zero and leaves no child behind', async () => {
    const dataDir = tempDir('bad-cli');
    const fake = join(dataDir, 'temporal');
    writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "temporal version 0"; exit 0; fi\necho "boom: cannot start" >&2\nexit 7\n');
    chmodSync(fake, 0o755);
    const [port, tport, uiPort] = await freePorts(3);
    const base = { ARCENTRA_DATA_DIR: dataDir, PORT: String(port), ARCENTRA_TEMPORAL_PORT: String(tport), ARCENTRA_TEMPORAL_UI_PORT: String(uiPort) };

    const failing = spawnArcentra({ ...base, ARCENTRA_TEMPORAL_CLI: fake });
    running.push(failing);
    expect(await failing.exited).toBe(1);
    expect(failing.stderr().trim()).toMatch(/^arcentra: temporal server start-dev exited .*boom: cannot start/);

    const missing = spawnArcentra({ ...base, ARCENTRA_TEMPORAL_CLI: join(dataDir, 'does-not-exist') });
    running.push(missing);
    expect(await missing.exited).toBe(1);
    expect(missing.stderr().trim()).toMatch(/^arcentra: ARCENTRA_TEMPORAL_CLI=.* cannot be used: not found$/);
    expect(await processesMatching(dataDir)).toEqual([]);
  }, 60_000);
});
