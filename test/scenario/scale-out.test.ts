// Separate `arcentra server` and `arcentra agent` processes on one PostgreSQL and one Temporal:
// an agent killed mid-step, a server killed mid-run, and a pause that outlives every process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sleep, until as untilValue } from '../support/until';
import { freshPostgresDatabase, tempDir } from '../support/databases';
import { freePorts, killGroup, spawnArcentra } from '../support/process';
import type { ArcentraProcess } from '../support/process';
import { SCENARIO_NAMESPACE } from '../support/global-setup';
import { recordReplayHistory } from '../support/record-replay';

const TOKEN = 'scale-out-admin-token-0123456789';

describe('scale-out: separate server and agent processes', () => {
  let base: Record<string, string>;
  let api: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;
  let drop: () => Promise<void>;
  let url: string;
  let serverEnv: Record<string, string>;
  let agentToken: string;
  const dirs = { server: tempDir('server'), a: tempDir('agent-a'), b: tempDir('agent-b') };
  const procs: Record<string, ArcentraProcess | undefined> = {};

  const startServer = async () => {
    procs.server = spawnArcentra(serverEnv, ['server']);
    await procs.server.ready;
  };
  const startAgent = async (name: 'a' | 'b') => {
    procs[name] = spawnArcentra({ ...base, ARCENTRA_DATA_DIR: dirs[name], ARCENTRA_AGENT_TOKEN: agentToken, ARCENTRA_AGENT_NAME: `agent-${name}` }, ['agent']);
    await procs[name]!.ready;
  };
  const kill9 = async (name: string) => {
    const p = procs[name]!;
    killGroup(p.child, 'SIGKILL');
    await p.exited;
    procs[name] = undefined;
  };
  const agentIdOf = (name: 'a' | 'b') => readFileSync(join(dirs[name], 'agent-id'), 'utf8').trim();
  const run = async (runId: string) => (await api('GET', `/api/v1/pipelines/runs/${runId}`)).body.detail;
  const until = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000) => untilValue(what, fn, { timeoutMs, everyMs: 250 });

  let n = 0;
  async function trigger(steps: unknown[]) {
    const created = await api('POST', '/api/v1/pipelines', { projectId: 'scale', name: `p${++n}`, spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'j', steps }] } });
    const trig = await api('POST', `/api/v1/pipelines/${created.body.detail.pipelineId}/trigger`, {});
    return { pipelineId: created.body.detail.pipelineId as string, runId: trig.body.detail.runId as string };
  }

  beforeAll(async () => {
    const pg = await freshPostgresDatabase();
    drop = pg.drop;
    base = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: SCENARIO_NAMESPACE, DATABASE_URL: pg.url };
    const setup = spawnArcentra(base, ['temporal', 'setup']);
    expect(await setup.exited, setup.stderr()).toBe(0);
    const [port] = await freePorts(1);
    url = `http://127.0.0.1:${port}`;
    serverEnv = { ...base, PORT: String(port), ARCENTRA_DATA_DIR: dirs.server, ARCENTRA_ADMIN_TOKEN: TOKEN, ARCENTRA_LOCAL_AGENT: '0' };
    api = async (method, path, body) => {
      const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    };
    await startServer();
    const tok = await api('POST', '/api/v1/agents/tokens', { name: 'scenario' });
    expect(tok.status).toBe(200);
    agentToken = tok.body.detail.token;
    await Promise.all([startAgent('a'), startAgent('b')]);
  }, 120_000);

  afterAll(async () => {
    for (const name of Object.keys(procs)) if (procs[name]) await kill9(name);
    await drop?.();
  });

  it('refuses an agent without a valid registration token', async () => {
    const bad = spawnArcentra({ ...base, ARCENTRA_DATA_DIR: tempDir('agent-bad'), ARCENTRA_AGENT_TOKEN: 'arcagent_not-a-real-token' }, ['agent']);
    expect(await bad.exited).toBe(1);
    expect(bad.stderr().trim()).toBe('arcentra: ARCENTRA_AGENT_TOKEN is not a valid registration token (unknown or revoked)');
  });

  it('lists both agents online', async () => {
    const agents = await until('two agents online', async () => {
      const r = await api('GET', '/api/v1/agents');
      const online = r.body.detail.list.filter((a: any) => a.status === 'online');
      return online.length === 2 ? r.body.detail.list : undefined;
    });
    expect(agents.map((a: any) => a.name).sort()).toEqual(['agent-a', 'agent-b']);
    expect(agents[0]).toMatchObject({ runningJobs: expect.any(Number), labels: expect.objectContaining({ os: 'linux' }) });
  });

  it('re-runs the job on the other agent when its agent is killed -9 mid-step', async () => {
    // The last step waits on the agent behind the slow one (dispatched two deep), and is lost with it.
    const { runId } = await trigger([{ name: 'first', run: 'echo first' }, { name: 'slow', run: 'sleep 6; echo done' }, { name: 'last', run: 'echo last' }]);
    const r = await until('the slow step on an agent', async () => {
      const r = await run(runId);
      return r.stages[0].jobs[0].steps[1].status === 'running' ? r : undefined;
    });
    const victim = r.stages[0].jobs[0].agentId === agentIdOf('a') ? 'a' : 'b';
    const survivor = victim === 'a' ? 'b' : 'a';
    await kill9(victim);
    const done = await until('the run to finish', async () => {
      const x = await run(runId);
      return ['success', 'failed', 'cancelled'].includes(x.status) ? x : undefined;
    }, 120_000);
    expect(done.status).toBe('success');
    const job = done.stages[0].jobs[0];
    expect(job.agentId).toBe(agentIdOf(survivor));
    expect(job.attempt).toBe(2);
    expect(job.steps.map((s: any) => s.status)).toEqual(['success', 'success', 'success']);
    await recordReplayHistory(inject('temporalAddress'), `pipeline-run/${runId}/job/${job.jobRunId}`, 'job-run-agent-lost', SCENARIO_NAMESPACE);
    await startAgent(victim);
  }, 180_000);

  it('finishes a run after its server (the control worker) is killed -9 and started again', async () => {
    const { runId } = await trigger([{ name: 'slow', run: 'sleep 4' }, { name: 'after', run: 'echo after' }]);
    await until('the slow step running', async () => (await run(runId)).stages[0].jobs[0].steps[0].status === 'running');
    await kill9('server');
    await sleep(5000); // the step finishes on its agent while no control worker is up
    await startServer();
    const done = await until('the run to finish', async () => {
      const x = await run(runId);
      return ['success', 'failed', 'cancelled'].includes(x.status) ? x : undefined;
    }, 90_000);
    expect(done.status).toBe('success');
  }, 150_000);

  it('keeps a pause across a kill -9 of every process', async () => {
    const { pipelineId, runId } = await trigger([{ name: 'a', run: 'sleep 2' }, { name: 'b', run: 'echo b' }]);
    await until('step a running', async () => (await run(runId)).stages[0].jobs[0].steps[0].status === 'running');
    expect((await api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/pause`, {})).status).toBe(200);
    await until('paused with step a done', async () => {
      const x = await run(runId);
      return x.status === 'paused' && x.stages[0].jobs[0].steps[0].status === 'success';
    });
    await Promise.all(['server', 'a', 'b'].map(kill9));
    await startServer();
    await Promise.all([startAgent('a'), startAgent('b')]);
    await sleep(3000);
    const held = await run(runId);
    expect(held.status).toBe('paused');
    expect(held.stages[0].jobs[0].steps[1].status).toBe('pending');
    expect((await api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/resume`, {})).status).toBe(200);
    const done = await until('the run to finish', async () => {
      const x = await run(runId);
      return ['success', 'failed', 'cancelled'].includes(x.status) ? x : undefined;
    });
    expect(done.status).toBe('success');
  }, 180_000);
});
