// Expressions on a real run: injection payloads print literally, `when` and status functions decide steps,
// outputs flow between steps, and a builtin plugin (git-checkout) clones a real repository.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';
import { tempDir } from '../support/databases';
import { MAX_OUTPUT_FILE_BYTES } from '../../activities/step';

async function runPipeline(sys: TestSystem, name: string, spec: unknown, trigger: Record<string, unknown> = {}) {
  const created = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_expr', name, spec });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const trig = await sys.api('POST', `/api/v1/pipelines/${created.body.detail.pipelineId}/trigger`, trigger);
  expect(trig.status, JSON.stringify(trig.body)).toBe(200);
  return sys.waitForRun(trig.body.detail.runId);
}

/** A local HTTP receiver that records every request; `reply` picks the status and body per path. */
async function startReceiver(reply: (url: string) => [number, string] = () => [200, 'ok']) {
  const received: Array<{ method: string; url: string; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, body });
      const [status, text] = reply(req.url!);
      res.statusCode = status;
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => server.close() };
}

async function logsOf(sys: TestSystem, run: any, stepName: string): Promise<string[]> {
  const step = run.stages.flatMap((s: any) => s.jobs).flatMap((j: any) => j.steps).find((s: any) => s.name === stepName);
  const r = await sys.api('GET', `/api/v1/pipelines/runs/${run.runId}/steps/${step.stepRunId}/logs`);
  return r.body.detail.lines.map((l: any) => l.content);
}

describe('expressions in real runs', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({ db: 'pglite' });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('never runs a substituted value as shell code', async () => {
    const dir = tempDir('pwned');
    const marker = join(dir, 'pwned');
    const payloads = {
      subst: `$(touch ${marker})`,
      quote: `"; touch ${marker} #`,
      tick: '`touch ' + marker + '`',
      single: `'; touch ${marker}; '`,
      newline: `a\ntouch ${marker}`,
    };
    const run = await runPipeline(
      sys,
      'injection',
      {
        namespace: 'demo',
        version: 'v1',
        variables: { subst: '', quote: '', tick: '', single: '', newline: '' },
        jobs: [
          {
            name: 'j',
            steps: [
              { name: 'bare', run: 'echo ${{ variables.subst }}\necho ${{ variables.tick }}' },
              { name: 'double', run: 'echo "q=${{ variables.quote }}"' },
              { name: 'single', run: "echo 'x${{ variables.single }}x'" },
              { name: 'multi', run: 'printf "%s|" "${{ variables.newline }}"; echo' },
            ],
          },
        ],
      },
      { variables: payloads },
    );
    expect(run.status).toBe('success');
    expect(existsSync(marker)).toBe(false);
    expect(await logsOf(sys, run, 'bare')).toEqual([payloads.subst, payloads.tick]);
    expect(await logsOf(sys, run, 'double')).toEqual([`q=${payloads.quote}`]);
    expect(await logsOf(sys, run, 'single')).toEqual([`x${payloads.single}x`]);
    expect(await logsOf(sys, run, 'multi')).toEqual(['a', `touch ${marker}|`]);
  });

  it('decides steps with when, success(), failure() and always(), and passes outputs on', async () => {
    const run = await runPipeline(
      sys,
      'conditions',
      {
        namespace: 'demo',
        version: 'v1',
        variables: { target: 'prod' },
        jobs: [
          {
            name: 'j',
            env: { GREETING: 'hello ${{ variables.target }}' },
            steps: [
              { name: 'produce', run: 'echo "version=1.2.3" >> "$ARCENTRA_OUTPUT"' },
              { name: 'consume', run: 'echo "got ${{ steps.produce.outputs.version }} $GREETING"' },
              { name: 'skipped-by-when', when: "variables.target == 'staging'", run: 'echo never' },
              { name: 'fail', run: 'exit 1' },
              { name: 'after-failure', run: 'echo never' },
              { name: 'on-failure', when: '${{ failure() }}', run: 'echo cleaning up after ${{ steps.fail.status }}' },
              { name: 'always', when: 'always()', run: 'echo always' },
            ],
          },
          { name: 'skipped-job', when: "startsWith(trigger.ref, 'refs/tags/')", steps: [{ name: 'x', run: 'echo never' }] },
        ],
      },
      { ref: 'refs/heads/main' },
    );
    expect(run.status).toBe('failed');
    const [j, skippedJob] = run.stages[0].jobs;
    expect(j.steps.map((s: any) => [s.name, s.status])).toEqual([
      ['produce', 'success'],
      ['consume', 'success'],
      ['skipped-by-when', 'skipped'],
      ['fail', 'failed'],
      ['after-failure', 'skipped'],
      ['on-failure', 'success'],
      ['always', 'success'],
    ]);
    expect(await logsOf(sys, run, 'consume')).toEqual(['got 1.2.3 hello prod']);
    expect(await logsOf(sys, run, 'on-failure')).toEqual(['cleaning up after failed']);
    expect(skippedJob).toMatchObject({ status: 'success', skipped: true });
    expect(skippedJob.steps.map((s: any) => s.status)).toEqual(['skipped']);
  });

  it('fails a step whose $ARCENTRA_OUTPUT is larger than outputs may be, saying so in its log', async () => {
    const big = `{ printf k=; head -c ${MAX_OUTPUT_FILE_BYTES} /dev/zero | tr '\\0' a; echo; } >> "$ARCENTRA_OUTPUT"`;
    const run = await runPipeline(sys, 'big-outputs', {
      namespace: 'demo',
      version: 'v1',
      jobs: [
        {
          name: 'j',
          steps: [
            { name: 'just-fits', run: 'echo "k=v" >> "$ARCENTRA_OUTPUT"' },
            { name: 'too-large', run: big },
            { name: 'failing-too-large', when: 'always()', run: `${big}; exit 3` },
            // Small as a file, six times larger as JSON (each control byte becomes \\u0001).
            { name: 'too-large-as-sent', when: 'always()', run: `{ printf k=; head -c 200000 /dev/zero | tr '\\0' '\\001'; echo; } >> "$ARCENTRA_OUTPUT"` },
            { name: 'a-link', when: 'always()', run: 'ln -sf /etc/hostname "$ARCENTRA_OUTPUT"' },
            { name: 'a-directory', when: 'always()', run: 'rm "$ARCENTRA_OUTPUT" && mkdir "$ARCENTRA_OUTPUT"' },
            // Its first attempt leaves a directory with a file in it where the output file goes:
            // the second finds the path free again.
            {
              name: 'a-directory-then-retried',
              when: 'always()',
              retry: { maxAttempts: 2, delay: '0s' },
              run: 'if [ ! -e tried ]; then touch tried; rm "$ARCENTRA_OUTPUT"; mkdir "$ARCENTRA_OUTPUT"; touch "$ARCENTRA_OUTPUT/x"; exit 1; fi; echo again=yes >> "$ARCENTRA_OUTPUT"',
            },
          ],
        },
      ],
    });
    expect(run.status).toBe('failed');
    const steps = run.stages[0].jobs[0].steps;
    expect(steps.map((s: any) => [s.name, s.status, s.exitCode])).toEqual([
      ['just-fits', 'success', 0],
      ['too-large', 'failed', 0],
      ['failing-too-large', 'failed', 3],
      ['too-large-as-sent', 'failed', 0],
      ['a-link', 'failed', 0],
      ['a-directory', 'failed', 0],
      ['a-directory-then-retried', 'success', 0],
    ]);
    expect(steps[0].outputs).toEqual({ k: 'v' });
    const message = `$ARCENTRA_OUTPUT holds ${MAX_OUTPUT_FILE_BYTES + 3} bytes, more than the ${MAX_OUTPUT_FILE_BYTES} a step's outputs may take`;
    expect(steps[1]).toMatchObject({ reason: message, outputs: {} });
    expect(steps[2]).toMatchObject({ reason: 'exit_nonzero', outputs: {} });
    expect(await logsOf(sys, run, 'too-large')).toEqual([message]);
    expect(await logsOf(sys, run, 'failing-too-large')).toEqual([message]);
    expect(steps[3]).toMatchObject({ reason: `the outputs in $ARCENTRA_OUTPUT take 1200008 bytes as sent, more than the ${MAX_OUTPUT_FILE_BYTES} a step's outputs may take`, outputs: {} });
    // Never read through a link: not the file the step names, and not an agent's crash either.
    expect(steps[4]).toMatchObject({ reason: '$ARCENTRA_OUTPUT could not be read (ELOOP)', outputs: {} });
    expect(steps[5]).toMatchObject({ reason: '$ARCENTRA_OUTPUT is not a regular file', outputs: {} });
    expect(steps[6]).toMatchObject({ attempt: 2, outputs: { again: 'yes' } });
  });

  it('runs the builtin git-checkout plugin against a real repository', async () => {
    const dir = tempDir('git');
    const work = join(dir, 'work');
    mkdirSync(work);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: work, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();
    git('init', '-q', '-b', 'main');
    writeFileSync(join(work, 'hello.txt'), 'hello from git\n');
    git('add', '.');
    git('commit', '-qm', 'first');
    const sha = git('rev-parse', 'HEAD');
    const run = await runPipeline(
      sys,
      'checkout',
      {
        namespace: 'demo',
        version: 'v1',
        source: { repo: `file://${work}` },
        jobs: [
          {
            name: 'build',
            source: { repo: `file://${work}` },
            steps: [
              { name: 'checkout', uses: 'actions/git-checkout@v1', args: { ref: '${{ trigger.branch }}', path: 'src' } },
              { name: 'read', run: 'cat src/hello.txt' },
            ],
          },
        ],
      },
      { ref: 'refs/heads/main' },
    );
    expect(run.status).toBe('success');
    const checkout = run.stages[0].jobs[0].steps[0];
    expect(checkout.outputs).toEqual({ commitSha: sha });
    expect(await logsOf(sys, run, 'read')).toEqual(['hello from git']);
  });

  it('moves an artifact between jobs, and lets outputs steer a later when', async () => {
    const run = await runPipeline(sys, 'artifacts', {
      namespace: 'demo',
      version: 'v1',
      stages: [
        {
          name: 'build',
          jobs: [
            {
              name: 'make',
              steps: [
                { name: 'produce', run: 'mkdir -p out && echo "binary v1" > out/app && echo "ship=yes" >> "$ARCENTRA_OUTPUT"' },
                { name: 'upload', uses: 'actions/artifact-upload@v1', args: { name: 'app', path: 'out' } },
                { name: 'gated', when: "steps.produce.outputs.ship == 'yes'", run: 'echo shipping' },
                { name: 'not-gated', when: "steps.produce.outputs.ship == 'no'", run: 'echo never' },
              ],
            },
          ],
        },
        {
          name: 'use',
          jobs: [{ name: 'consume', steps: [{ name: 'download', uses: 'actions/artifact-download@v1', args: { name: 'app', path: 'in' } }, { name: 'read', run: 'cat in/out/app' }] }],
        },
      ],
    });
    expect(run.status).toBe('success');
    expect(run.stages[0].jobs[0].steps.map((s: any) => s.status)).toEqual(['success', 'success', 'success', 'skipped']);
    expect(await logsOf(sys, run, 'read')).toEqual(['binary v1']);
  });

  it('fails a step whose command does not exist, with its stderr in the log', async () => {
    const run = await runPipeline(sys, 'missing-command', { namespace: 'demo', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 'nope', run: 'definitely-not-a-command --flag' }] }] });
    expect(run.status).toBe('failed');
    expect(run.stages[0].jobs[0].steps[0].exitCode).toBe(127);
    expect((await logsOf(sys, run, 'nope')).join('\n')).toMatch(/definitely-not-a-command: command not found/);
  });

  it('calls a local HTTP receiver with http-request and notify-webhook', async () => {
    const { base, received, close } = await startReceiver((url) => (url === '/teapot' ? [418, 'ok'] : [200, url === '/version' ? '{"version":"2.0"}' : 'ok']));
    try {
      const run = await runPipeline(sys, 'http', {
        namespace: 'demo',
        version: 'v1',
        jobs: [
          {
            name: 'j',
            steps: [
              { name: 'get', uses: 'actions/http-request@v1', args: { url: `${base}/version` } },
              { name: 'post', uses: 'actions/http-request@v1', args: { url: `${base}/deploy`, method: 'POST', body: { version: '${{ steps.get.outputs.status }}' } } },
              { name: 'teapot', uses: 'actions/http-request@v1', continueOnError: true, args: { url: `${base}/teapot` } },
              { name: 'notify', uses: 'actions/notify-webhook@v1', args: { url: `${base}/hook`, status: 'success', message: 'deployed' } },
            ],
          },
        ],
      });
      expect(run.status).toBe('partial');
      const steps = run.stages[0].jobs[0].steps;
      expect(steps.map((s: any) => s.status)).toEqual(['success', 'success', 'failed', 'success']);
      expect(steps[0].outputs).toEqual({ status: '200', body: '{"version":"2.0"}' });
      expect(received.find((r) => r.url === '/deploy')).toMatchObject({ method: 'POST', body: '{"version":"200"}' });
      const hook = JSON.parse(received.find((r) => r.url === '/hook')!.body);
      expect(hook).toMatchObject({ runId: run.runId, pipelineId: run.pipelineId, status: 'success', message: 'deployed' });
      expect((await logsOf(sys, run, 'teapot')).join('\n')).toMatch(/unexpected status 418/);
    } finally {
      close();
    }
  });

  it('builds a Node.js package with node-build, and names a toolchain that is too old', async () => {
    const run = await runPipeline(sys, 'node-build', {
      namespace: 'demo',
      version: 'v1',
      jobs: [
        {
          name: 'j',
          steps: [
            { name: 'package', run: `echo '{"name":"x","version":"1.0.0","scripts":{"build":"node -e \\"console.log(21*2)\\""}}' > package.json` },
            { name: 'build', uses: 'actions/node-build@v1', args: { node_version: '20', install: false } },
            { name: 'too-new', uses: 'actions/node-build@v1', continueOnError: true, args: { node_version: '99.0', install: false } },
          ],
        },
      ],
    });
    expect(run.status).toBe('partial');
    expect((await logsOf(sys, run, 'build')).join('\n')).toMatch(/\n42$/);
    expect((await logsOf(sys, run, 'too-new')).join('\n')).toMatch(/older than the requested 99.0/);
  });

  it('notifies a local receiver on success and on failure, and a failing notification changes nothing', async () => {
    const { base, received: raw, close } = await startReceiver();
    const notices = () => raw.map((r) => ({ url: r.url, ...JSON.parse(r.body || '{}') }));
    const notify = {
      onSuccess: [{ uses: 'actions/notify-webhook@v1', args: { url: `${base}/ok` } }],
      onFailure: [
        { uses: 'actions/notify-webhook@v1', args: { url: 'http://127.0.0.1:1/nobody-listens', attempts: 1 } },
        { uses: 'actions/notify-webhook@v1', args: { url: `${base}/failed` } },
      ],
    };
    try {
      const good = await runPipeline(sys, 'notify-ok', { namespace: 'demo', version: 'v1', notify, jobs: [{ name: 'j', steps: [{ name: 's', run: 'true' }] }] });
      const bad = await runPipeline(sys, 'notify-bad', {
        namespace: 'demo',
        version: 'v1',
        notify,
        jobs: [{ name: 'j', notify: { onFailure: [{ uses: 'actions/notify-webhook@v1', args: { url: `${base}/job-failed` } }] }, steps: [{ name: 's', run: 'exit 1' }] }],
      });
      expect(good.status).toBe('success');
      expect(bad.status).toBe('failed');
      // The run ends first, then its notifications go out: wait for them.
      for (let i = 0; i < 100 && raw.length < 3; i++) await new Promise((r) => setTimeout(r, 100));
      expect(notices().find((r) => r.url === '/ok')).toMatchObject({ runId: good.runId, pipelineId: good.pipelineId, jobRunId: null, status: 'success' });
      expect(notices().find((r) => r.url === '/failed')).toMatchObject({ runId: bad.runId, status: 'failed' });
      expect(notices().find((r) => r.url === '/job-failed')).toMatchObject({ runId: bad.runId, jobRunId: bad.stages[0].jobs[0].jobRunId, status: 'failed' });
      expect((await sys.api('GET', `/api/v1/pipelines/runs/${bad.runId}`)).body.detail.status).toBe('failed');
    } finally {
      close();
    }
  });

  it('notifies on cancel when a run is stopped, with the run id and status', async () => {
    const { base, received, close } = await startReceiver();
    try {
      const created = await sys.api('POST', '/api/v1/pipelines', {
        projectId: 'proj_expr',
        name: 'notify-cancel',
        spec: { namespace: 'demo', version: 'v1', notify: { onCancel: [{ uses: 'actions/notify-webhook@v1', args: { url: `${base}/cancelled` } }] }, jobs: [{ name: 'j', steps: [{ name: 's', run: 'sleep 60' }] }] },
      });
      const pipelineId = created.body.detail.pipelineId;
      const { runId } = (await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {})).body.detail;
      await sys.waitForRun(runId, ['running']);
      for (let i = 0; i < 100; i++) {
        const run = (await sys.api('GET', `/api/v1/pipelines/runs/${runId}`)).body.detail;
        if (run.stages[0].jobs[0].steps[0].status === 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, { reason: 'enough' })).status).toBe(200);
      const done = await sys.waitForRun(runId);
      expect(done.status).toBe('cancelled');
      for (let i = 0; i < 100 && received.length < 1; i++) await new Promise((r) => setTimeout(r, 100));
      expect(received.map((r) => ({ url: r.url, ...JSON.parse(r.body) }))).toEqual([expect.objectContaining({ url: '/cancelled', runId, pipelineId, status: 'cancelled' })]);
    } finally {
      close();
    }
  });
});
