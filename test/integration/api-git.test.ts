// Git-backed definitions through the API, against real local bare repositories and a local HTTP
// server playing the provider: read at the branch head, run from it, save direct (one winner of two
// simultaneous saves, 409 with the current head, one result per requestId), save as a pull request,
// credentials kept sealed, and bad repository URLs and file paths refused.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/databases';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();
const PIPELINE_YAML = `namespace: demo
version: v1
jobs:
  - name: build
    steps:
      - name: hello
        run: echo from git
`;

/** A bare repository with .arcentra/pipeline.yaml on main; returns its file URL and path. */
function bareRepo(): { url: string; dir: string } {
  const root = tempDir('git-api');
  const work = join(root, 'work');
  const bare = join(root, 'repo.git');
  mkdirSync(join(work, '.arcentra'), { recursive: true });
  git(root, 'init', '-q', '-b', 'main', work);
  writeFileSync(join(work, '.arcentra', 'pipeline.yaml'), PIPELINE_YAML);
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', 'first');
  git(root, 'clone', '-q', '--bare', work, bare);
  return { url: `file://${bare}`, dir: bare };
}
const commits = (dir: string, ref = 'main') => Number(git(dir, 'rev-list', '--count', ref));

describe('git-backed definitions', () => {
  let sys: TestSystem;
  let n = 0;
  const calls: Array<{ method: string; url: string; headers: Record<string, unknown>; body: any }> = [];
  let provider: Server;
  let providerUrl: string;

  beforeAll(async () => {
    sys = await startTestSystem({ db: 'postgres', config: { allowFileRepos: true } });
    provider = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        calls.push({ method: req.method!, url: req.url!, headers: req.headers, body: body ? JSON.parse(body) : null });
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ number: 7, html_url: `http://gitea.local/acme/pipes/pulls/7` }));
      });
    });
    await new Promise<void>((r) => provider.listen(0, '127.0.0.1', () => r()));
    providerUrl = `http://127.0.0.1:${(provider.address() as { port: number }).port}/api/v1`;
  });
  afterAll(async () => {
    await sys?.close();
    provider?.close();
  });

  async function gitPipeline(repoUrl: string, extra: Record<string, unknown> = {}) {
    const res = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_git', name: `g${++n}`, repoUrl, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.detail;
  }

  it('reads the definition at the head of defaultBranch and runs from that commit', async () => {
    const repo = bareRepo();
    const p = await gitPipeline(repo.url);
    expect(p).toMatchObject({ repoUrl: repo.url, defaultBranch: 'main', pipelineFilePath: '.arcentra/pipeline.yaml', hasCredentials: false });
    const spec = await sys.api('GET', `/api/v1/pipelines/${p.pipelineId}/spec`);
    expect(spec.body.detail).toEqual({ spec: PIPELINE_YAML, format: 'yaml', headCommitSha: git(repo.dir, 'rev-parse', 'main'), branch: 'main', pipelineFilePath: '.arcentra/pipeline.yaml' });
    const { runId } = (await sys.api('POST', `/api/v1/pipelines/${p.pipelineId}/trigger`, {})).body.detail;
    const done = await sys.waitForRun(runId);
    expect(done.status).toBe('success');
    expect(done.definitionCommitSha).toBe(git(repo.dir, 'rev-parse', 'main'));
    const log = await sys.api('GET', `/api/v1/pipelines/runs/${runId}/steps/${done.stages[0].jobs[0].steps[0].stepRunId}/logs`);
    expect(log.body.detail.lines.map((l: any) => l.content)).toContain('from git');
  });

  it('saves directly on top of the expected head: one of two simultaneous saves wins, a stale head is 409, a requestId repeats its answer', async () => {
    const repo = bareRepo();
    const p = await gitPipeline(repo.url);
    const head = git(repo.dir, 'rev-parse', 'main');
    const spec = (text: string) => ({ namespace: 'demo', version: 'v1', jobs: [{ name: 'build', steps: [{ name: 'hello', run: `echo ${text}` }] }] });
    const both = await Promise.all(['a', 'b'].map((x) => sys.api('POST', `/api/v1/pipelines/${p.pipelineId}/spec/save`, { spec: spec(x), expectedHeadCommitSha: head, commitMessage: `save ${x}`, editor: 'dana' })));
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(commits(repo.dir)).toBe(2);
    const winner = both.find((r) => r.status === 200)!.body.detail;
    const loser = both.find((r) => r.status === 409)!.body;
    expect(winner).toMatchObject({ branch: 'main', saveMode: 'direct', prUrl: null, prBranch: null, commitSha: git(repo.dir, 'rev-parse', 'main') });
    expect(loser.details).toEqual({ currentHeadCommitSha: winner.commitSha });
    expect(git(repo.dir, 'log', '-1', '--format=%an %s', 'main')).toMatch(/^dana save [ab]$/);
    expect(git(repo.dir, 'show', 'main:.arcentra/pipeline.yaml')).toContain('echo ');

    const first = await sys.api('POST', `/api/v1/pipelines/${p.pipelineId}/spec/save`, { spec: spec('c'), expectedHeadCommitSha: winner.commitSha, requestId: 'git-save-1' });
    expect(first.status).toBe(200);
    const repeat = await sys.api('POST', `/api/v1/pipelines/${p.pipelineId}/spec/save`, { spec: spec('d'), expectedHeadCommitSha: winner.commitSha, requestId: 'git-save-1' });
    expect(repeat.body.detail).toEqual(first.body.detail);
    expect(commits(repo.dir)).toBe(3);
    const invalid = await sys.api('POST', `/api/v1/pipelines/${p.pipelineId}/spec/save`, { spec: { namespace: 'demo' }, expectedHeadCommitSha: first.body.detail.commitSha });
    expect(invalid.status).toBe(400);
    expect(commits(repo.dir)).toBe(3);
  });

  it('saves in pr mode: a new branch with the file, and exactly one pull-request call to the provider', async () => {
    const repo = bareRepo();
    const p = await gitPipeline(repo.url, {
      saveMode: 'pr',
      credentials: { kind: 'token', token: 'provider-token-123' },
      metadata: { gitProvider: { kind: 'gitea', apiBaseUrl: providerUrl, repository: 'acme/pipes' } },
    });
    expect(p.hasCredentials).toBe(true);
    expect(JSON.stringify(p)).not.toContain('provider-token-123');
    const head = git(repo.dir, 'rev-parse', 'main');
    const saved = await sys.api('POST', `/api/v1/pipelines/${p.pipelineId}/spec/save`, {
      spec: PIPELINE_YAML.replace('from git', 'from a pull request'),
      format: 'yaml',
      expectedHeadCommitSha: head,
      commitMessage: 'Say hello differently',
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const d = saved.body.detail;
    expect(d).toMatchObject({ saveMode: 'pr', branch: 'main', prUrl: 'http://gitea.local/acme/pipes/pulls/7' });
    expect(d.prBranch).toMatch(/^arcentra\//);
    expect(git(repo.dir, 'rev-parse', 'main')).toBe(head);
    expect(git(repo.dir, 'show', `${d.prBranch}:.arcentra/pipeline.yaml`)).toContain('from a pull request');
    expect(git(repo.dir, 'rev-parse', d.prBranch)).toBe(d.commitSha);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/v1/repos/acme/pipes/pulls', body: { head: d.prBranch, base: 'main', title: 'Say hello differently' } });
    expect(calls[0].headers.authorization).toBe('token provider-token-123');
  });

  it('refuses bad repository URLs and file paths, naming the field, and writes nothing', async () => {
    for (const [body, field] of [
      [{ repoUrl: 'http://example.com/x.git' }, 'repoUrl'],
      [{ repoUrl: 'ext::sh -c touch% /tmp/pwned' }, 'repoUrl'],
      [{ repoUrl: '-uhttps://x' }, 'repoUrl'],
      [{ repoUrl: 'https://example.com/x.git', pipelineFilePath: '../../x.yaml' }, 'pipelineFilePath'],
      [{ repoUrl: 'https://example.com/x.git', pipelineFilePath: '.git/config.yaml' }, 'pipelineFilePath'],
      [{ repoUrl: 'https://example.com/x.git', credentials: { kind: 'password', value: 'x' } }, 'credentials'],
    ] as const) {
      const res = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_git', name: `bad${++n}`, ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errMsg).toMatch(new RegExp(`^${field}: `));
    }
    const listed = await sys.api('GET', '/api/v1/pipelines?projectId=proj_git&pageSize=100');
    expect(listed.body.detail.list.filter((x: any) => x.name.startsWith('bad'))).toEqual([]);
  });

  it('refuses file:// repositories unless ARCENTRA_ALLOW_FILE_REPOS=1', async () => {
    const strict = await startTestSystem({ db: 'pglite', agent: false });
    try {
      const res = await strict.api('POST', '/api/v1/pipelines', { projectId: 'p', name: 'local', repoUrl: bareRepo().url });
      expect(res.status).toBe(400);
      expect(res.body.errMsg).toMatch(/^repoUrl: /);
    } finally {
      await strict.close();
    }
  });
});
