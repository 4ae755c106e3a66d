// The repository cache against real git: a bare "remote" on disk, read and written through the
// cache the way the server would, and checked with git itself.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRepoCache, GitError } from '../../src/git/repo-cache';

const PIPELINE = '.arcentra/pipeline.yaml';
const V1 = 'version: 1\njobs: {}\n';
const V2 = 'version: 1\njobs:\n  build: { steps: [] }\n';
const AUTHOR = { name: 'Ada Editor', email: 'ada@example.com' };

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Seeder',
  GIT_AUTHOR_EMAIL: 'seed@example.com',
  GIT_COMMITTER_NAME: 'Seeder',
  GIT_COMMITTER_EMAIL: 'seed@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'commit.gpgSign=false', ...args], { cwd, env: gitEnv, encoding: 'utf8' }).trim();
}

/** A bare repository whose main has two commits: V1 of the pipeline, then V2. */
function seedRepo() {
  const base = join(process.cwd(), '.test-data');
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(join(base, 'git-'));
  const bare = join(root, 'origin.git');
  const work = join(root, 'work');
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  git(root, 'init', '--quiet', '--initial-branch=main', work);
  mkdirSync(join(work, '.arcentra'));
  writeFileSync(join(work, PIPELINE), V1);
  writeFileSync(join(work, 'README.md'), 'hello\n');
  git(work, 'add', '-A');
  git(work, 'commit', '--quiet', '-m', 'first');
  const first = git(work, 'rev-parse', 'HEAD');
  writeFileSync(join(work, PIPELINE), V2);
  git(work, 'commit', '--quiet', '-am', 'second');
  git(work, 'push', '--quiet', bare, 'main:main');
  const cache = () => createRepoCache({ cacheDir: mkdtempSync(join(root, 'cache-')), timeoutMs: 8000 });
  return {
    root,
    bare,
    first,
    head: (branch = 'main') => git(bare, 'rev-parse', branch),
    count: (branch = 'main') => Number(git(bare, 'rev-list', '--count', branch)),
    show: (rev: string) => git(bare, 'show', rev),
    cache,
  };
}

async function gitError(promise: Promise<unknown>): Promise<GitError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GitError);
  return err as GitError;
}

describe('repo cache', () => {
  it('reads a file at the branch head', async () => {
    const repo = seedRepo();
    const cache = repo.cache();
    const read = await cache.readFile({ repoUrl: repo.bare, branch: 'main', path: PIPELINE });
    expect(read).toEqual({ content: V2, commitSha: repo.head() });
    // file:// URLs name the same repository.
    expect(await cache.readFile({ repoUrl: `file://${repo.bare}`, branch: 'main', path: PIPELINE })).toEqual(read);
  });

  it('reports a missing file with the head it looked at', async () => {
    const repo = seedRepo();
    expect(await repo.cache().readFile({ repoUrl: repo.bare, branch: 'main', path: 'nope/pipeline.yml' })).toEqual({ missing: true, commitSha: repo.head() });
  });

  it('reports a missing branch as branch_not_found', async () => {
    const repo = seedRepo();
    const err = await gitError(repo.cache().readFile({ repoUrl: repo.bare, branch: 'does-not-exist', path: PIPELINE }));
    expect(err.kind).toBe('branch_not_found');
    expect(err.message).toMatch(/branch "does-not-exist" does not exist/);
  });

  it('refuses unsafe paths and branch names before running git', async () => {
    const repo = seedRepo();
    const cache = repo.cache();
    expect((await gitError(cache.readFile({ repoUrl: repo.bare, branch: 'main', path: '../x.yaml' }))).message).toMatch(/inside the repository/);
    expect((await gitError(cache.readFile({ repoUrl: repo.bare, branch: '--upload-pack=x', path: PIPELINE }))).message).toMatch(/invalid branch name/);
    expect((await gitError(cache.readFile({ repoUrl: 'ext::sh -c x', branch: 'main', path: PIPELINE }))).kind).toBe('other');
  });

  it('reads a file at an older commit, fetching it when the cache lacks it', async () => {
    const repo = seedRepo();
    expect(await repo.cache().readFileAt({ repoUrl: repo.bare, commitSha: repo.first, path: PIPELINE })).toEqual({ content: V1, commitSha: repo.first });
    const cache = repo.cache();
    await cache.readFile({ repoUrl: repo.bare, branch: 'main', path: PIPELINE });
    expect(await cache.readFileAt({ repoUrl: repo.bare, commitSha: repo.first, path: PIPELINE })).toEqual({ content: V1, commitSha: repo.first });
    expect(await cache.readFileAt({ repoUrl: repo.bare, commitSha: repo.first, path: 'other.yaml' })).toEqual({ missing: true, commitSha: repo.first });
    const unknown = await gitError(cache.readFileAt({ repoUrl: repo.bare, commitSha: 'f'.repeat(40), path: PIPELINE }));
    expect(unknown.message).toMatch(/is not in/);
  });

  it('commits a file directly on top of the expected head, with the given author and message', async () => {
    const repo = seedRepo();
    const before = repo.head();
    const countBefore = repo.count();
    const result = await repo.cache().commitFile({
      repoUrl: repo.bare,
      branch: 'main',
      path: PIPELINE,
      content: 'version: 1\n# edited\n',
      message: 'Edit pipeline from the UI',
      author: AUTHOR,
      expectedHeadSha: before,
    });
    expect(result).toEqual({ commitSha: repo.head(), branch: 'main' });
    expect(repo.count()).toBe(countBefore + 1);
    expect(git(repo.bare, 'rev-parse', `${result.commitSha}^`)).toBe(before);
    expect(repo.show(`main:${PIPELINE}`)).toBe('version: 1\n# edited');
    expect(repo.show('main:README.md')).toBe('hello'); // the rest of the tree is untouched
    expect(git(repo.bare, 'log', '-1', '--format=%an|%ae|%cn|%ce|%B', 'main')).toBe('Ada Editor|ada@example.com|Ada Editor|ada@example.com|Edit pipeline from the UI');
    expect(git(repo.bare, 'diff-tree', '--no-commit-id', '--name-only', '-r', 'main')).toBe(PIPELINE);
  });

  it('refuses a stale expectedHeadSha as a conflict and pushes nothing', async () => {
    const repo = seedRepo();
    const head = repo.head();
    const err = await gitError(
      repo.cache().commitFile({ repoUrl: repo.bare, branch: 'main', path: PIPELINE, content: 'x: 1\n', message: 'stale', author: AUTHOR, expectedHeadSha: repo.first }),
    );
    expect(err.kind).toBe('conflict');
    expect(err.currentHeadSha).toBe(head);
    expect(repo.head()).toBe(head);
    expect(repo.count()).toBe(2);
  });

  it('lets exactly one of two concurrent commits from separate caches win', async () => {
    const repo = seedRepo();
    const head = repo.head();
    const edit = (content: string) => ({ repoUrl: repo.bare, branch: 'main', path: PIPELINE, content, message: `set ${content.trim()}`, author: AUTHOR, expectedHeadSha: head });
    const results = await Promise.allSettled([repo.cache().commitFile(edit('a: 1\n')), repo.cache().commitFile(edit('b: 2\n'))]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const err = (lost[0] as PromiseRejectedResult).reason as GitError;
    expect(err).toBeInstanceOf(GitError);
    expect(err.kind).toBe('conflict');
    const winner = (won[0] as PromiseFulfilledResult<{ commitSha: string }>).value.commitSha;
    expect(err.currentHeadSha).toBe(winner);
    expect(repo.head()).toBe(winner);
    expect(repo.count()).toBe(3);
  });

  it('turns a branch moved between fetch and push into a conflict (the lease holds at the remote)', async () => {
    const repo = seedRepo();
    const head = repo.head();
    // Another writer moves main while our push is being received: git's lock then refuses our update.
    const hook = join(repo.bare, 'hooks', 'pre-receive');
    writeFileSync(
      hook,
      `#!/bin/sh\ncat >/dev/null\nenv -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git update-ref refs/heads/main ${repo.first}\nexit 0\n`,
    );
    chmodSync(hook, 0o755);
    const err = await gitError(
      repo.cache().commitFile({ repoUrl: repo.bare, branch: 'main', path: PIPELINE, content: 'late: true\n', message: 'late', author: AUTHOR, expectedHeadSha: head }),
    );
    expect(err.kind).toBe('conflict');
    expect(err.currentHeadSha).toBe(repo.first);
    expect(repo.head()).toBe(repo.first);
  });

  it('commits to a new branch for a pull request and leaves main alone', async () => {
    const repo = seedRepo();
    const head = repo.head();
    const cache = repo.cache();
    const input = { repoUrl: repo.bare, branch: 'arcentra/edit-1', baseBranch: 'main', path: PIPELINE, content: 'pr: true\n', message: 'Propose', author: AUTHOR, expectedHeadSha: head };
    const result = await cache.commitFile(input);
    expect(result).toEqual({ commitSha: repo.head('arcentra/edit-1'), branch: 'arcentra/edit-1' });
    expect(repo.head()).toBe(head);
    expect(repo.count()).toBe(2);
    expect(git(repo.bare, 'rev-parse', `${result.commitSha}^`)).toBe(head);
    expect(repo.show(`arcentra/edit-1:${PIPELINE}`)).toBe('pr: true');
    expect(await cache.headOf({ repoUrl: repo.bare, branch: 'arcentra/edit-1' })).toBe(result.commitSha);
    expect(await cache.headOf({ repoUrl: repo.bare, branch: 'nope' })).toBeNull();

    // The branch now exists: creating it again is a conflict; further edits target it directly.
    const again = await gitError(cache.commitFile(input));
    expect(again.kind).toBe('conflict');
    expect(again.currentHeadSha).toBe(result.commitSha);
    const next = await cache.commitFile({ ...input, baseBranch: undefined, content: 'pr: 2\n', expectedHeadSha: result.commitSha });
    expect(repo.head('arcentra/edit-1')).toBe(next.commitSha);
    expect(repo.head()).toBe(head);
  });

  it.skipIf(spawnSync('openssl', ['version']).status !== 0)('sends a token as a Basic authorization header over https, and maps a 403 to auth', async () => {
    const repo = seedRepo();
    const key = join(repo.root, 'key.pem');
    const cert = join(repo.root, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const seen: Array<{ url?: string; authorization?: string }> = [];
    const server: Server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const previousCa = process.env.GIT_SSL_CAINFO;
    process.env.GIT_SSL_CAINFO = cert;
    try {
      const token = 'glpat-VerySecret42';
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/acme/repo.git`;
      const err = await gitError(repo.cache().headOf({ repoUrl: url, branch: 'main', credentials: { kind: 'token', token, username: 'bot' } }));
      expect(err.kind).toBe('auth');
      expect(err.message).not.toContain(token);
      expect(seen[0].url).toBe('/acme/repo.git/info/refs?service=git-upload-pack');
      expect(seen[0].authorization).toBe(`Basic ${Buffer.from(`bot:${token}`).toString('base64')}`);
    } finally {
      if (previousCa === undefined) delete process.env.GIT_SSL_CAINFO;
      else process.env.GIT_SSL_CAINFO = previousCa;
      server.closeAllConnections();
      server.close();
    }
  });

  it('keeps tokens out of error messages', async () => {
    const repo = seedRepo();
    const token = 'ghp_SuperSecretToken123';
    const err = await gitError(
      repo.cache().readFile({ repoUrl: 'https://127.0.0.1:1/acme/repo.git', branch: 'main', path: PIPELINE, credentials: { kind: 'token', token } }),
    );
    expect(err.kind).toBe('unreachable');
    expect(err.message).not.toContain(token);
    expect(err.message).not.toContain(Buffer.from(`x-access-token:${token}`).toString('base64'));
  });
});
