// Triggers on a real dev server: cron triggers as Temporal Schedules (created, updated, paused,
// deleted, and repaired at start-up), and signed webhooks (GitHub, GitLab, Gitea, generic) that
// start exactly one run per matching delivery, with the definition read at the pushed commit.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until as untilValue } from '../support/until';
import { Client, Connection } from '@temporalio/client';
import { findTemporalCli } from '../../src/launcher/temporal-cli';
import { tempDir } from '../support/databases';
import { isolatedSettings, startTestSystem } from '../support/system';
import { recordReplayHistory } from '../support/record-replay';
import { prng } from '../support/prng';
import type { TestSystem } from '../support/system';

const cronSpec = (expression: string, extra: Record<string, unknown> = {}) => ({
  namespace: 'demo',
  version: 'v1',
  variables: { region: 'eu' },
  triggers: [{ type: 'manual' }, { type: 'cron', options: { expression, timezone: 'Europe/Berlin', variables: { region: 'us' }, ...extra } }],
  jobs: [{ name: 'j', steps: [{ name: 's', run: 'echo "region=${{ variables.region }}"' }] }],
});

describe('cron triggers as Temporal Schedules', () => {
  let sys: TestSystem;
  let client: Client;
  const dataDir = tempDir('cron');
  const settings = isolatedSettings();
  const cli = (...args: string[]) => execFileSync(findTemporalCli(), [...args, '--address', sys.temporalAddress, '--namespace', 'default'], { encoding: 'utf8' });
  const listed = () => (JSON.parse(cli('schedule', 'list', '--output', 'json') || '[]') as Array<{ scheduleId: string }>).map((s) => s.scheduleId);
  const describeSchedule = (id: string) => client.schedule.getHandle(id).describe();
  const until = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000) => untilValue(what, fn, { timeoutMs, everyMs: 200 });


  beforeAll(async () => {
    sys = await startTestSystem({ db: 'pglite', dataDir, settings });
    client = new Client({ connection: await Connection.connect({ address: sys.temporalAddress }) });
  });
  afterAll(async () => {
    await sys?.close();
    await client?.connection.close();
  });

  let pipelineId: string;
  let scheduleId: string;

  it('makes one schedule per cron trigger, listed by the Temporal CLI', async () => {
    const created = await sys.api('POST', '/api/v1/pipelines', { projectId: 'cron', name: 'nightly', spec: cronSpec('0 3 * * *') });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    pipelineId = created.body.detail.pipelineId;
    scheduleId = `pipeline/${pipelineId}/cron/0`;
    await until('the schedule in the CLI list', async () => listed().includes(scheduleId));
    const d = await describeSchedule(scheduleId);
    expect(d.spec.calendars ?? d.spec).toBeTruthy();
    expect(d.spec.timezone).toBe('Europe/Berlin');
    expect(d.policies.overlap).toBe('SKIP');
    expect(d.action).toMatchObject({ workflowType: 'CronTriggerWorkflow', taskQueue: settings.taskQueues.control });
    expect(d.state.paused).toBe(false);
  });

  it('starts a run with triggerType cron when the schedule fires (temporal schedule trigger)', async () => {
    cli('schedule', 'trigger', '--schedule-id', scheduleId);
    const run = await until('a cron run', async () => {
      const r = await sys.api('GET', `/api/v1/pipelines/${pipelineId}/runs`);
      return r.body.detail.list[0];
    });
    expect(run).toMatchObject({ triggerType: 'cron', triggeredBy: 'schedule', variables: { region: 'us' } });
    const done = await sys.waitForRun(run.runId);
    expect(done.status).toBe('success');
    const logs = await sys.api('GET', `/api/v1/pipelines/runs/${run.runId}/steps/${done.stages[0].jobs[0].steps[0].stepRunId}/logs`);
    expect(logs.body.detail.lines.map((l: any) => l.content)).toEqual(['region=us']);
    // Operators find it like any run, and see it as the schedule's child.
    const found = await until('the run in visibility', async () => {
      const list = [];
      for await (const w of client.workflow.list({ query: `ArcentraPipelineId="${pipelineId}" AND ArcentraTriggerType="cron"` })) list.push(w);
      return list.length ? list : undefined;
    });
    expect(found.map((w) => w.workflowId)).toContain(`pipeline-run/${run.runId}`);
    const action = await until('the schedule action finished', async () => {
      for await (const w of client.workflow.list({ query: `WorkflowType="CronTriggerWorkflow" AND ExecutionStatus="Completed"` })) if (w.workflowId.startsWith(`${scheduleId}-`)) return w;
      return undefined;
    });
    expect(await client.workflow.getHandle(action.workflowId).result()).toEqual({ runId: run.runId });
    await recordReplayHistory(sys.temporalAddress, action.workflowId, 'cron-trigger');
  });

  it('follows the spec: a new expression updates the schedule, disabling pauses it', async () => {
    const head = (await sys.api('GET', `/api/v1/pipelines/${pipelineId}/spec`)).body.detail.headCommitSha;
    const saved = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/spec/save`, { spec: cronSpec('*/5 * * * *', { overlap: 'bufferOne', catchupWindow: '10m' }), format: 'json', expectedHeadCommitSha: head });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    // A schedule changes by a signal to its scheduler: what describe shows follows shortly after.
    const d = await until('the new expression', async () => {
      const x = await describeSchedule(scheduleId);
      return JSON.stringify(x.spec.calendars?.[0]?.minute) === JSON.stringify([{ start: 0, end: 59, step: 5 }]) ? x : undefined;
    });
    expect(d.policies).toMatchObject({ overlap: 'BUFFER_ONE', catchupWindow: 600_000 });

    expect((await sys.api('PUT', `/api/v1/pipelines/${pipelineId}`, { enabled: false })).status).toBe(200);
    await until('the schedule paused', async () => (await describeSchedule(scheduleId)).state.paused);
    const refused = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.errMsg).toMatch(/disabled/);
    expect((await sys.api('PUT', `/api/v1/pipelines/${pipelineId}`, { enabled: true })).status).toBe(200);
    await until('the schedule running again', async () => !(await describeSchedule(scheduleId)).state.paused);
  });

  it('refuses a malformed cron expression or an unknown time zone, with its path', async () => {
    const bad = await sys.api('POST', '/api/v1/pipelines', { projectId: 'cron', name: 'bad', spec: cronSpec('61 * * * *') });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'triggers[1].options.expression' })]));
    const zone = await sys.api('POST', '/api/v1/pipelines', { projectId: 'cron', name: 'bad', spec: cronSpec('0 3 * * *', { timezone: 'Mars/Olympus' }) });
    expect(zone.status).toBe(400);
    expect(zone.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'triggers[1].options.timezone' })]));
    const overlap = await sys.api('POST', '/api/v1/pipelines', { projectId: 'cron', name: 'bad', spec: cronSpec('0 3 * * *', { overlap: 'sometimes' }) });
    expect(overlap.status).toBe(400);
    expect(overlap.body.details[0].path).toBe('triggers[1].options.overlap');
  });

  it('repairs drift at the next start: a schedule deleted behind its back comes back, an orphan goes', async () => {
    const other = await sys.api('POST', '/api/v1/pipelines', { projectId: 'cron', name: 'hourly', spec: cronSpec('@hourly') });
    const otherId = other.body.detail.pipelineId;
    await client.schedule.getHandle(scheduleId).delete();
    // An orphan of this installation (its memo names our control queue), for a pipeline that no longer exists.
    const orphanId = 'pipeline/pl_gone/cron/0';
    await client.schedule.create({
      scheduleId: orphanId,
      spec: { cronExpressions: ['0 4 * * *'] },
      action: { type: 'startWorkflow', workflowType: 'CronTriggerWorkflow', taskQueue: settings.taskQueues.control, args: [{ pipelineId: 'pl_gone', n: 0, variables: {} }] },
      memo: { arcentraControlQueue: settings.taskQueues.control },
    });
    await sys.close();
    sys = await startTestSystem({ db: 'pglite', dataDir, settings });
    await until('the deleted schedule back', () => describeSchedule(scheduleId).then(() => true));
    await until('the orphan gone', async () => describeSchedule(orphanId).then(() => false, () => true));
    expect((await describeSchedule(`pipeline/${otherId}/cron/0`)).state.paused).toBe(false);
  });

  it('removes the schedules with the pipeline', async () => {
    expect((await sys.api('DELETE', `/api/v1/pipelines/${pipelineId}`)).status).toBe(200);
    await expect(describeSchedule(scheduleId)).rejects.toThrow(/not found/i);
    // A spec without cron triggers removes the ones it had.
    const p = await sys.api('POST', '/api/v1/pipelines', { projectId: 'cron', name: 'two', spec: { ...cronSpec('@daily'), triggers: [{ type: 'cron', options: { expression: '@daily' } }, { type: 'cron', options: { expression: '@weekly' } }] } });
    const id = p.body.detail.pipelineId;
    await describeSchedule(`pipeline/${id}/cron/1`);
    const head = (await sys.api('GET', `/api/v1/pipelines/${id}/spec`)).body.detail.headCommitSha;
    await sys.api('POST', `/api/v1/pipelines/${id}/spec/save`, { spec: { ...cronSpec('@daily'), triggers: [{ type: 'manual' }] }, format: 'json', expectedHeadCommitSha: head });
    await expect(describeSchedule(`pipeline/${id}/cron/0`)).rejects.toThrow(/not found/i);
    await expect(describeSchedule(`pipeline/${id}/cron/1`)).rejects.toThrow(/not found/i);
  });
});

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();

describe('webhooks', () => {
  let sys: TestSystem;
  let pipelineId: string;
  const SECRET = 'webhook-secret-0123456789';
  const eventSpec = (branches: string[]) => ({
    namespace: 'demo',
    version: 'v1',
    triggers: [{ type: 'event', options: { events: ['push'], branches } }],
    jobs: [{ name: 'j', steps: [{ name: 's', run: 'echo "${{ trigger.branch }} ${{ trigger.commitSha }} ${{ trigger.event }}"' }] }],
  });
  const sha = (c: string) => c.repeat(40);
  const push = (branch: string, commit: string, extra: Record<string, unknown> = {}) => ({
    ref: `refs/heads/${branch}`,
    after: commit,
    deleted: false,
    pusher: { name: 'octo' },
    repository: { full_name: 'acme/app' },
    commits: [{ added: ['src/a.ts'], modified: [], removed: [] }],
    ...extra,
  });
  async function hook(id: string, body: string | object, headers: Record<string, string>) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const res = await fetch(`${sys.url}/api/v1/webhooks/${id}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
    return { status: res.status, body: (await res.json()) as any };
  }
  const github = (body: object | string, delivery: string, secret = SECRET) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return { 'x-github-event': 'push', 'x-github-delivery': delivery, 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(text).digest('hex')}` };
  };
  const runsOf = async (id: string) => (await sys.api('GET', `/api/v1/pipelines/${id}/runs`)).body.detail.list as any[];

  beforeAll(async () => {
    sys = await startTestSystem({ db: 'postgres', config: { allowFileRepos: true } });
    const created = await sys.api('POST', '/api/v1/pipelines', { projectId: 'hooks', name: 'app', spec: eventSpec(['main', 'release/*']), webhookSecret: SECRET });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body.detail).toMatchObject({ hasWebhookSecret: true, enabled: true });
    expect(JSON.stringify(created.body)).not.toContain(SECRET);
    pipelineId = created.body.detail.pipelineId;
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('refuses a bad or missing signature with 401 and starts nothing', async () => {
    const body = push('main', sha('a'));
    const wrong = await hook(pipelineId, body, github(body, 'd-wrong', 'not-the-secret-at-all'));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ code: 401, errMsg: 'webhook signature refused: signature does not match', path: `/api/v1/webhooks/${pipelineId}` });
    const missing = await hook(pipelineId, body, { 'x-github-event': 'push', 'x-github-delivery': 'd-missing' });
    expect(missing.status).toBe(401);
    expect(missing.body.errMsg).toMatch(/missing X-Hub-Signature-256/);
    const tampered = github(body, 'd-tampered');
    expect((await hook(pipelineId, { ...body, after: sha('b') }, tampered)).status).toBe(401);
    expect(await runsOf(pipelineId)).toEqual([]);
  });

  it('starts exactly one run for a signed push on a matching branch, even when it is delivered twice at once', async () => {
    const body = push('release/1.2', sha('c'));
    const headers = github(body, 'delivery-1');
    const [first, second] = await Promise.all([hook(pipelineId, body, headers), hook(pipelineId, body, headers)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    const answers = [first.body.detail, second.body.detail];
    const original = answers.find((a) => !a.duplicate) ?? answers[0];
    expect(original).toMatchObject({ triggered: true, provider: 'github', deliveryId: 'delivery-1', event: { event: 'push', branch: 'release/1.2', commitSha: sha('c'), actor: 'octo' } });
    expect(answers.filter((a) => a.duplicate)).toHaveLength(1);
    const again = await hook(pipelineId, body, headers);
    expect(again.body.detail).toMatchObject({ duplicate: true, runId: original.runId, triggered: true });
    const runs = await runsOf(pipelineId);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ runId: original.runId, triggerType: 'event', triggeredBy: 'octo', ref: 'refs/heads/release/1.2', commitSha: sha('c') });
    const done = await sys.waitForRun(original.runId);
    expect(done.status).toBe('success');
    const logs = await sys.api('GET', `/api/v1/pipelines/runs/${original.runId}/steps/${done.stages[0].jobs[0].steps[0].stepRunId}/logs`);
    expect(logs.body.detail.lines.map((l: any) => l.content)).toEqual([`release/1.2 ${sha('c')} push`]);
  });

  it('answers a non-matching or ignorable event with 200 and the reason, and starts nothing', async () => {
    const before = (await runsOf(pipelineId)).length;
    const dev = push('dev', sha('d'));
    const r = await hook(pipelineId, dev, github(dev, 'delivery-dev'));
    expect(r.status).toBe(200);
    expect(r.body.detail).toMatchObject({ triggered: false, runId: null });
    expect(r.body.detail.reason).toMatch(/branch "dev" matches none of branches \[main, release\/\*\]/);
    const gone = push('main', '0'.repeat(40), { deleted: true });
    const del = await hook(pipelineId, gone, github(gone, 'delivery-deleted'));
    expect(del.body.detail.triggered).toBe(false);
    expect((await runsOf(pipelineId)).length).toBe(before);
  });

  it('takes GitLab, Gitea and generic deliveries, and refuses what is not JSON or from no known provider', async () => {
    const gitlab = { object_kind: 'push', ref: 'refs/heads/main', checkout_sha: sha('e'), user_username: 'gl', project: { path_with_namespace: 'acme/app' }, commits: [], total_commits_count: 0 };
    const gl = await hook(pipelineId, gitlab, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'gl-1' });
    expect(gl.status, JSON.stringify(gl.body)).toBe(200);
    expect(gl.body.detail).toMatchObject({ provider: 'gitlab', triggered: true });
    expect((await hook(pipelineId, gitlab, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'wrong-token-wrong-token', 'x-gitlab-event-uuid': 'gl-2' })).status).toBe(401);

    const gitea = push('main', sha('f'));
    const giteaText = JSON.stringify(gitea);
    const gt = await hook(pipelineId, giteaText, { 'x-gitea-event': 'push', 'x-gitea-delivery': 'gt-1', 'x-gitea-signature': createHmac('sha256', SECRET).update(giteaText).digest('hex') });
    expect(gt.body.detail).toMatchObject({ provider: 'gitea', triggered: true });

    const generic = JSON.stringify({ event: 'push', ref: 'main', commitSha: sha('1'), actor: 'bot' });
    const gen = await hook(pipelineId, generic, { 'x-arcentra-delivery': 'gen-1', 'x-arcentra-signature': `sha256=${createHmac('sha256', SECRET).update(generic).digest('hex')}` });
    expect(gen.body.detail).toMatchObject({ provider: 'generic', triggered: true, event: { ref: 'refs/heads/main', actor: 'bot' } });

    const notJson = 'this is { not json';
    const nj = await hook(pipelineId, notJson, github(notJson, 'nj-1'));
    expect(nj.status).toBe(400);
    expect(nj.body.errMsg).toMatch(/^body: not JSON/);
    const unknown = await hook(pipelineId, { a: 1 }, { 'x-some-event': 'push' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errMsg).toMatch(/unknown webhook provider/);
    expect((await hook('pl_does_not_exist', { a: 1 }, github({ a: 1 }, 'x'))).status).toBe(404);
    expect((await hook('..%2F..%2Fetc', { a: 1 }, github({ a: 1 }, 'x'))).status).toBe(404);
    const huge = 'x'.repeat(1024 * 1024 + 10);
    expect((await hook(pipelineId, huge, github(huge, 'huge'))).status).toBe(413);
  });

  it('reads a git-backed definition at the pushed commit, not at the default branch', async () => {
    const root = tempDir('hook-git');
    const work = join(root, 'work');
    const bare = join(root, 'repo.git');
    mkdirSync(join(work, '.arcentra'), { recursive: true });
    git(root, 'init', '-q', '-b', 'main', work);
    writeFileSync(join(work, '.arcentra', 'pipeline.yaml'), JSON.stringify(eventSpec(['main'])));
    git(work, 'add', '.');
    git(work, 'commit', '-q', '-m', 'runs on main');
    const matching = git(work, 'rev-parse', 'HEAD');
    writeFileSync(join(work, '.arcentra', 'pipeline.yaml'), JSON.stringify(eventSpec(['release/*'])));
    git(work, 'commit', '-q', '-am', 'runs on release only');
    const head = git(work, 'rev-parse', 'HEAD');
    git(root, 'clone', '-q', '--bare', work, bare);
    const p = await sys.api('POST', '/api/v1/pipelines', { projectId: 'hooks', name: 'from-git', repoUrl: `file://${bare}`, webhookSecret: SECRET });
    const id = p.body.detail.pipelineId;

    const old = push('main', matching);
    const r1 = await hook(id, old, github(old, 'git-1'));
    expect(r1.body.detail, JSON.stringify(r1.body)).toMatchObject({ triggered: true });
    const run = (await runsOf(id))[0];
    expect(run).toMatchObject({ commitSha: matching, definitionCommitSha: matching });

    const now = push('main', head);
    const r2 = await hook(id, now, github(now, 'git-2'));
    expect(r2.body.detail).toMatchObject({ triggered: false });
    expect(r2.body.detail.reason).toMatch(/branch "main" matches none of branches \[release\/\*\]/);
    expect(await runsOf(id)).toHaveLength(1);
  });

  it('survives 600 malformed or forged deliveries without a 5xx, and starts nothing from them', async () => {
    const rand = prng(20261129);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const before = (await runsOf(pipelineId)).length;
    const bodies = ['', '{}', '[]', 'null', '{"ref":', '"x"', JSON.stringify(push('main', sha('9'))), JSON.stringify({ object_kind: 'push', ref: 42 }), '\u0000\uffff', 'x'.repeat(5000), JSON.stringify({ a: { b: { c: [1, { d: null }] } } })];
    const headerSets = [
      () => ({ 'x-github-event': pick(['push', 'pull_request', 'ping', 'issues', '']), 'x-hub-signature-256': pick(['', 'sha256=', `sha256=${'0'.repeat(64)}`, 'sha1=abc', 'garbage']) }),
      () => ({ 'x-gitlab-event': pick(['Push Hook', 'Tag Push Hook', 'Merge Request Hook', 'nope']), 'x-gitlab-token': pick(['', 'short', 'x'.repeat(300)]) }),
      () => ({ 'x-gitea-event': pick(['push', 'create', '']), 'x-gitea-signature': pick(['', 'zz', '0'.repeat(64)]) }),
      () => ({ 'x-arcentra-signature': pick(['sha256=', 'md5=1', `sha256=${'f'.repeat(64)}`]), 'x-arcentra-event': 'push' }),
      () => ({}),
      () => ({ 'x-github-event': 'push', 'x-gitlab-event': 'Push Hook', 'content-type': pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) }),
    ];
    const seen = new Set<number>();
    for (let i = 0; i < 600; i++) {
      const body = pick(bodies);
      const headers = { ...pick(headerSets)(), ...(rand() < 0.3 ? { 'x-github-delivery': `f-${i}` } : {}) } as Record<string, string>;
      const target = rand() < 0.1 ? pick(['pl_nope', 'a'.repeat(300), '%00', '..%2F']) : pipelineId;
      const res = await fetch(`${sys.url}/api/v1/webhooks/${target}`, { method: 'POST', headers, body });
      seen.add(res.status);
      expect(res.status, `${i}: ${JSON.stringify(headers)} ${body.slice(0, 40)}`).toBeLessThan(500);
      await res.arrayBuffer();
    }
    expect([...seen].every((s) => [400, 401, 404].includes(s))).toBe(true);
    expect((await runsOf(pipelineId)).length).toBe(before);
    expect((await sys.api('GET', '/healthz', undefined, null)).status).toBe(200);
  }, 120_000);
});
