import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runProcess } from '../../src/agent/process-runner';
import { createSecretMasker } from '../../src/agent/secret-masker';
import { parseOutputs, workspaceFor } from '../../activities/step';
import { tempDir } from '../support/databases';

const bash = (script: string, extra: Partial<Parameters<typeof runProcess>[0]> = {}) => {
  const lines: string[] = [];
  mkdirSync(join(process.cwd(), '.test-data'), { recursive: true });
  const proc = runProcess({ command: 'bash', args: ['-c', script], cwd: process.cwd(), env: { PATH: process.env.PATH! }, killGraceMs: 500, ...extra }, (s, t) => lines.push(`${s}:${t}`));
  return { proc, lines };
};

describe('runProcess', () => {
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

  it('reports a command that cannot start', async () => {
    const proc = runProcess({ command: '/nonexistent/binary', args: [], cwd: process.cwd(), env: {}, killGraceMs: 100 }, () => undefined);
    expect((await proc.done).kind).toBe('spawn_failed');
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
