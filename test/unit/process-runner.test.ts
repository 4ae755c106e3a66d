import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { runProcess } from '../../src/agent/process-runner';
import { createSpawnerLauncher } from '../../src/agent/process-spawner';
import { createSecretMasker } from '../../src/agent/secret-masker';
import { parseOutputs, workspaceFor } from '../../activities/step';
import { tempDir } from '../support/databases';

type Launch = (spec: Parameters<typeof runProcess>[0], onLine: Parameters<typeof runProcess>[1]) => ReturnType<typeof runProcess>;
const spawner = createSpawnerLauncher();
afterAll(() => spawner.close());

describe.each([
  ['in this process', runProcess as Launch],
  ['through the spawner', ((spec, onLine) => spawner.run(spec, onLine)) as Launch],
])('step processes started %s', (_, launch) => {
  const bash = (script: string, extra: Partial<Parameters<typeof runProcess>[0]> = {}) => {
    const lines: string[] = [];
    mkdirSync(join(process.cwd(), '.test-data'), { recursive: true });
    const proc = launch({ command: 'bash', args: ['-c', script], cwd: process.cwd(), env: { PATH: process.env.PATH! }, killGraceMs: 500, ...extra }, (s, t) => lines.push(`${s}:${t}`));
    return { proc, lines };
  };

  it('collects lines of both streams and the exit code', async () => {
    const { proc, lines } = bash('echo out; echo err >&2; exit 3');
    expect(await proc.done).toEqual({ kind: 'exited', exitCode: 3 });
    expect(lines.sort()).toEqual(['stderr:err', 'stdout:out']);
  });

  it('kills the whole process group on timeout, grandchildren included', async () => {
    const dir = tempDir('runner');
    const marker = join(dir, 'survivor');
    const { proc } = bash(`(sleep 2; touch '${marker}') & sleep 30`, { timeoutMs: 300 });
    expect(await proc.done).toEqual({ kind: 'timeout' });
    await new Promise((r) => setTimeout(r, 2500));
    expect(existsSync(marker)).toBe(false);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const { proc } = bash(`trap '' TERM; echo started; while true; do sleep 0.1; done`);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    proc.cancel();
    expect(await proc.done).toEqual({ kind: 'cancelled' });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('ends a stopped process whose output is held back, and one that exited while it was', async () => {
    // Held back as the agent does when no server takes its log: the pipes fill and stay full.
    for (const [script, stop] of [
      ['while true; do echo tick; done', 'cancel'],
      ['seq 1 200000; exit 4', 'timeout'],
    ] as const) {
      const { proc } = bash(script, stop === 'timeout' ? { timeoutMs: 1500 } : {});
      proc.pauseOutput();
      await new Promise((r) => setTimeout(r, 500));
      if (stop === 'cancel') proc.cancel();
      proc.pauseOutput(); // a write after the stop finds the backlog still full
      const ended = await Promise.race([proc.done, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
      expect(ended).toEqual({ kind: stop === 'cancel' ? 'cancelled' : 'timeout' });
    }
  });

  it('reports a command that cannot start', async () => {
    const proc = launch({ command: '/nonexistent/binary', args: [], cwd: process.cwd(), env: {}, killGraceMs: 100 }, () => undefined);
    expect((await proc.done).kind).toBe('spawn_failed');
  });

  it('feeds standard input and keeps every line of a long output, in order, across pauses', async () => {
    const { proc, lines } = bash('cat; seq 1 50000', { stdin: 'from stdin\n' });
    // Paused now and then, as the agent does when its log backlog grows.
    const pacer = setInterval(() => {
      proc.pauseOutput();
      setTimeout(() => proc.resumeOutput(), 5);
    }, 20);
    expect(await proc.done).toEqual({ kind: 'exited', exitCode: 0 });
    clearInterval(pacer);
    // (bash on a socket for stdin may read ~/.bashrc and complain on stderr: only stdout is checked.)
    const out = lines.filter((l) => l.startsWith('stdout:'));
    expect(out[0]).toBe('stdout:from stdin');
    expect(out.slice(1)).toEqual(Array.from({ length: 50000 }, (_, i) => `stdout:${i + 1}`));
  });
});

describe('the spawner', () => {
  it('takes its step processes with it when its agent goes away', async () => {
    const dir = tempDir('spawner');
    const marker = join(dir, 'survivor');
    const own = createSpawnerLauncher();
    const proc = own.run({ command: 'bash', args: ['-c', `sleep 1.5; touch '${marker}'`], cwd: process.cwd(), env: { PATH: process.env.PATH! }, killGraceMs: 100 }, () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await own.close();
    expect((await proc.done).kind).not.toBe('exited');
    await new Promise((r) => setTimeout(r, 2000));
    expect(existsSync(marker)).toBe(false);
  });

  it('takes them with it too when one prints as its agent goes away', async () => {
    // The spawner's next message to the agent then fails (EPIPE) before it hears of the
    // disconnect: unhandled, that error ended it and left this process running.
    const dir = tempDir('spawner-chatty');
    const marker = join(dir, 'survivor');
    const token = `chatty-${process.pid}-${Date.now()}`;
    // A first spawner warms the caches: the race shows (unfixed) with a quick start.
    const warm = createSpawnerLauncher();
    await warm.run({ command: 'true', args: [], cwd: process.cwd(), env: { PATH: process.env.PATH! }, killGraceMs: 100 }, () => undefined).done;
    await warm.close();
    const own = createSpawnerLauncher();
    try {
      const proc = own.run({ command: 'bash', args: ['-c', `(while :; do echo ${token}; done) & sleep 1.5; touch '${marker}'`], cwd: process.cwd(), env: { PATH: process.env.PATH! }, killGraceMs: 100 }, () => undefined);
      await new Promise((r) => setTimeout(r, 200));
      await own.close();
      expect((await proc.done).kind).not.toBe('exited');
      await new Promise((r) => setTimeout(r, 2000));
      expect(existsSync(marker)).toBe(false);
      expect(spawnSync('pgrep', ['-f', token]).status).toBe(1); // nothing matched: the loop is gone too
    } finally {
      spawnSync('pkill', ['-f', token]);
    }
  });
});

describe('step helpers', () => {
  it('masks every known secret, longest first', () => {
    const m = createSecretMasker(['hunter2', 'hunter2-long', 'ab']);
    expect(m.mask('a hunter2-long and hunter2 ab')).toBe('a *** and *** ab');
  });
  it('parses key=value outputs, keeping = in values', () => {
    expect(parseOutputs('a=1\nb=x=y\nnot a pair\n')).toEqual({ a: '1', b: 'x=y' });
  });
  it('keeps workspaces inside their root', () => {
    expect(workspaceFor('/data/ws', 'run_1', 'job_1')).toBe('/data/ws/run_1/job_1');
    expect(() => workspaceFor('/data/ws', '..', '..')).toThrow(/escapes/);
  });
});
