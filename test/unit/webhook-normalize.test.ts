// Provider payloads → NormalizedEvent. Fixtures are trimmed copies of the providers' documented payloads.
import { describe, it, expect } from 'vitest';
import { normalizeEvent } from '../../src/webhooks/normalize';
import type { NormalizedEvent } from '../../src/webhooks/normalize';

const SHA = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c';
const OLD = '9049f1265b7d61be4a8904a9a27120d2064dab3b';
const ZERO = '0000000000000000000000000000000000000000';

const ok = (result: ReturnType<typeof normalizeEvent>): NormalizedEvent => {
  if (!result.ok) throw new Error(`expected an event, got ignored: ${result.ignored}`);
  return result.event;
};
const ignoredReason = (result: ReturnType<typeof normalizeEvent>): string => {
  if (result.ok) throw new Error(`expected ignored, got ${JSON.stringify(result.event)}`);
  return result.ignored;
};

const githubPush = (over: Record<string, unknown> = {}) => ({
  ref: 'refs/heads/main', before: OLD, after: SHA, created: false, deleted: false, forced: false,
  repository: { id: 1296269, name: 'Hello-World', full_name: 'octocat/Hello-World' },
  pusher: { name: 'octocat', email: 'octocat@github.com' },
  sender: { login: 'octocat-bot', id: 1 },
  commits: [
    { id: OLD, message: 'one', added: ['docs/a.md'], removed: [], modified: ['README.md'] },
    { id: SHA, message: 'two', added: [], removed: ['old.txt'], modified: ['README.md', 'src/x.ts'] },
  ],
  head_commit: { id: SHA },
  ...over,
});

describe('GitHub', () => {
  const gh = (event: string, payload: unknown) => normalizeEvent('github', { 'x-github-event': event }, payload);

  it('push to a branch', () => {
    expect(ok(gh('push', githubPush()))).toEqual({
      event: 'push', ref: 'refs/heads/main', branch: 'main', tag: null, commitSha: SHA, actor: 'octocat', repo: 'octocat/Hello-World',
      changedPaths: ['docs/a.md', 'README.md', 'src/x.ts', 'old.txt'],
    });
  });

  it('push to a nested branch name, actor from sender when there is no pusher name', () => {
    const e = ok(gh('push', githubPush({ ref: 'refs/heads/release/1.2', pusher: { email: 'x' } })));
    expect(e.branch).toBe('release/1.2');
    expect(e.actor).toBe('octocat-bot');
  });

  it('push of a tag', () => {
    expect(ok(gh('push', githubPush({ ref: 'refs/tags/v1.2.0', base_ref: 'refs/heads/main', commits: [] })))).toMatchObject({
      event: 'tag', ref: 'refs/tags/v1.2.0', branch: null, tag: 'v1.2.0', commitSha: SHA, changedPaths: [],
    });
  });

  it('branch and tag deletions are ignored', () => {
    expect(ignoredReason(gh('push', githubPush({ deleted: true, after: ZERO, commits: [], head_commit: null })))).toContain('deletion of "refs/heads/main"');
    expect(ignoredReason(gh('push', githubPush({ after: ZERO, ref: 'refs/tags/v1' })))).toContain('deletion');
    expect(ignoredReason(gh('push', githubPush({ deleted: true })))).toContain('deletion');
  });

  it('ping is ignored', () => {
    expect(ignoredReason(gh('ping', { zen: 'Design for failure.', hook_id: 1 }))).toBe('ping');
  });

  it('a full commit list (2048) means the changed paths are unknown', () => {
    const commits = Array.from({ length: 2048 }, (_, i) => ({ added: [`f${i}`] }));
    expect(ok(gh('push', githubPush({ commits }))).changedPaths).toEqual([]);
  });

  const pr = (action: string, over: Record<string, unknown> = {}) => ({
    action, number: 42,
    pull_request: { number: 42, head: { ref: 'feature/login', sha: SHA, repo: { full_name: 'fork/Hello-World' } }, base: { ref: 'main', sha: OLD } },
    repository: { full_name: 'octocat/Hello-World' }, sender: { login: 'contributor' },
    ...over,
  });

  it.each(['opened', 'synchronize', 'reopened'])('pull_request %s', (action) => {
    expect(ok(gh('pull_request', pr(action)))).toEqual({
      event: 'pull_request', ref: 'refs/pull/42/head', branch: 'feature/login', tag: null, commitSha: SHA, actor: 'contributor', repo: 'octocat/Hello-World', changedPaths: [],
    });
  });

  it.each(['closed', 'edited', 'labeled', 'assigned', undefined])('pull_request %s is ignored', (action) => {
    expect(ignoredReason(gh('pull_request', pr(action as string)))).toMatch(/^pull_request action .* does not start runs$/);
  });

  it('pull_request without a usable number or head is ignored', () => {
    expect(ignoredReason(gh('pull_request', pr('opened', { number: '42', pull_request: { head: { ref: 'x', sha: SHA } } })))).toContain('valid number');
    expect(ignoredReason(gh('pull_request', pr('opened', { pull_request: { number: 42, head: {} } })))).toContain('head branch');
  });

  it('other events are ignored by name', () => {
    expect(ignoredReason(gh('issues', { action: 'opened' }))).toBe('unsupported GitHub event "issues"');
    expect(ignoredReason(normalizeEvent('github', {}, { ref: 'refs/heads/main' }))).toBe('unsupported GitHub event ""');
  });

  it('refuses refs, branches and shas that are unsafe to hand to git', () => {
    expect(ignoredReason(gh('push', githubPush({ ref: 'refs/heads/--upload-pack=evil' })))).toContain('invalid ref');
    expect(ignoredReason(gh('push', githubPush({ ref: 'refs/heads/a b' })))).toContain('invalid ref');
    expect(ignoredReason(gh('push', githubPush({ ref: 'refs/heads/../../etc' })))).toContain('invalid ref');
    expect(ignoredReason(gh('push', githubPush({ ref: 'refs/heads/x\n$(id)' })))).toContain('invalid ref');
    expect(ignoredReason(gh('push', githubPush({ after: 'not-a-sha' })))).toContain('invalid commit sha');
    expect(ignoredReason(gh('pull_request', pr('opened', { pull_request: { number: 1, head: { ref: '-x', sha: SHA } } })))).toContain('invalid branch');
    expect(ignoredReason(gh('push', githubPush({ ref: 'refs/notes/commits' })))).toBe('unsupported ref "refs/notes/commits"');
  });
});

describe('GitLab', () => {
  const gl = (event: string, payload: unknown) => normalizeEvent('gitlab', { 'x-gitlab-event': event }, payload);
  const push = (over: Record<string, unknown> = {}) => ({
    object_kind: 'push', event_name: 'push', before: OLD, after: SHA, ref: 'refs/heads/master', checkout_sha: SHA,
    user_name: 'John Smith', user_username: 'jsmith', project: { id: 15, path_with_namespace: 'mike/diaspora' },
    commits: [{ id: SHA, added: ['CHANGELOG'], modified: ['app/controller/application.rb'], removed: [] }],
    total_commits_count: 1,
    ...over,
  });

  it('Push Hook', () => {
    expect(ok(gl('Push Hook', push()))).toEqual({
      event: 'push', ref: 'refs/heads/master', branch: 'master', tag: null, commitSha: SHA, actor: 'jsmith', repo: 'mike/diaspora',
      changedPaths: ['CHANGELOG', 'app/controller/application.rb'],
    });
  });

  it('falls back to user_name, and to after when checkout_sha is missing', () => {
    const e = ok(gl('Push Hook', push({ user_username: undefined, checkout_sha: undefined })));
    expect(e.actor).toBe('John Smith');
    expect(e.commitSha).toBe(SHA);
  });

  it('a truncated commit list (GitLab sends at most 20) means the changed paths are unknown', () => {
    expect(ok(gl('Push Hook', push({ total_commits_count: 25 }))).changedPaths).toEqual([]);
  });

  it('Tag Push Hook uses checkout_sha (the commit), not after (an annotated tag object)', () => {
    expect(ok(gl('Tag Push Hook', push({ object_kind: 'tag_push', ref: 'refs/tags/v1.0.0', after: OLD, checkout_sha: SHA, commits: [] })))).toMatchObject({
      event: 'tag', tag: 'v1.0.0', branch: null, commitSha: SHA,
    });
  });

  it('deletions are ignored', () => {
    expect(ignoredReason(gl('Push Hook', push({ after: ZERO, checkout_sha: null, commits: [] })))).toContain('deletion');
    expect(ignoredReason(gl('Tag Push Hook', push({ ref: 'refs/tags/v1', after: ZERO, checkout_sha: null })))).toContain('deletion');
  });

  const mr = (action: string, over: Record<string, unknown> = {}) => ({
    object_kind: 'merge_request', event_type: 'merge_request',
    user: { name: 'Administrator', username: 'root' },
    project: { id: 1, path_with_namespace: 'gitlabhq/gitlab-test' },
    object_attributes: { iid: 1, source_branch: 'ms-viewport', target_branch: 'master', last_commit: { id: SHA }, action, ...over },
  });

  it.each(['open', 'reopen'])('Merge Request Hook %s', (action) => {
    expect(ok(gl('Merge Request Hook', mr(action)))).toEqual({
      event: 'pull_request', ref: 'refs/merge-requests/1/head', branch: 'ms-viewport', tag: null, commitSha: SHA, actor: 'root', repo: 'gitlabhq/gitlab-test', changedPaths: [],
    });
  });

  it('Merge Request Hook update starts a run only with new commits (oldrev)', () => {
    expect(ok(gl('Merge Request Hook', mr('update', { oldrev: OLD }))).event).toBe('pull_request');
    expect(ignoredReason(gl('Merge Request Hook', mr('update')))).toBe('merge request update without new commits');
  });

  it.each(['close', 'merge', 'approved', 'unapproved'])('Merge Request Hook %s is ignored', (action) => {
    expect(ignoredReason(gl('Merge Request Hook', mr(action)))).toContain('does not start runs');
  });

  it('uses object_kind when the header is absent, and names unsupported events', () => {
    expect(ok(normalizeEvent('gitlab', {}, push())).event).toBe('push');
    expect(ignoredReason(gl('Issue Hook', { object_kind: 'issue' }))).toBe('unsupported GitLab event "Issue Hook"');
  });
});

describe('Gitea', () => {
  const gt = (event: string, payload: unknown) => normalizeEvent('gitea', { 'x-gitea-event': event, 'x-github-event': event }, payload);
  const push = (over: Record<string, unknown> = {}) => ({
    ref: 'refs/heads/develop', before: OLD, after: SHA, compare_url: 'http://localhost:3000/gitea/webhooks/compare/a...b',
    commits: [{ id: SHA, message: 'Webhooks Yay!', added: ['a.go'], removed: [], modified: ['docs/x.md'] }],
    total_commits: 1,
    repository: { id: 140, name: 'webhooks', full_name: 'gitea/webhooks' },
    pusher: { id: 1, login: 'gitea', username: 'gitea-u' },
    sender: { id: 1, login: 'sender', username: 'sender-u' },
    ...over,
  });

  it('push', () => {
    expect(ok(gt('push', push()))).toEqual({
      event: 'push', ref: 'refs/heads/develop', branch: 'develop', tag: null, commitSha: SHA, actor: 'gitea', repo: 'gitea/webhooks', changedPaths: ['a.go', 'docs/x.md'],
    });
    expect(ok(gt('push', push({ pusher: { username: 'gitea-u' } }))).actor).toBe('gitea-u');
  });

  it('a tag arrives as a push of refs/tags/…; the duplicate create event is ignored', () => {
    expect(ok(gt('push', push({ ref: 'refs/tags/v2.0', commits: [] })))).toMatchObject({ event: 'tag', tag: 'v2.0', commitSha: SHA });
    expect(ignoredReason(gt('create', { ref: 'v2.0', ref_type: 'tag', sha: SHA, repository: {}, sender: {} }))).toContain('create');
  });

  it('deletions and truncated commit lists', () => {
    expect(ignoredReason(gt('push', push({ after: ZERO })))).toContain('deletion');
    expect(ok(gt('push', push({ total_commits: 12 }))).changedPaths).toEqual([]);
  });

  const pr = (action: string) => ({
    action, number: 7,
    pull_request: { id: 9, number: 7, head: { ref: 'feat', sha: SHA, label: 'feat' }, base: { ref: 'main' } },
    repository: { full_name: 'gitea/webhooks' }, sender: { login: 'alice' },
  });

  it.each(['opened', 'reopened', 'synchronized'])('pull_request %s', (action) => {
    expect(ok(gt('pull_request', pr(action)))).toMatchObject({ event: 'pull_request', ref: 'refs/pull/7/head', branch: 'feat', commitSha: SHA, actor: 'alice' });
  });

  it('other actions and events are ignored', () => {
    expect(ignoredReason(gt('pull_request', pr('label_updated')))).toContain('"label_updated"');
    expect(ignoredReason(gt('delete', { ref: 'x', ref_type: 'branch' }))).toBe('unsupported Gitea event "delete"');
  });
});

describe('generic', () => {
  const gen = (payload: unknown, headers = {}) => normalizeEvent('generic', headers, payload);

  it('full payload', () => {
    expect(ok(gen({ event: 'push', ref: 'refs/heads/main', commitSha: SHA.toUpperCase(), actor: 'ci-bot', repo: 'acme/app', paths: ['src/a.ts', 7, 'b'] }))).toEqual({
      event: 'push', ref: 'refs/heads/main', branch: 'main', tag: null, commitSha: SHA, actor: 'ci-bot', repo: 'acme/app', changedPaths: ['src/a.ts', 'b'],
    });
  });

  it('defaults to push and reads a bare ref as a branch', () => {
    expect(ok(gen({ ref: 'main' }))).toMatchObject({ event: 'push', ref: 'refs/heads/main', branch: 'main', commitSha: null, actor: null, repo: null, changedPaths: [] });
  });

  it('tags: bare name with event tag, or a refs/tags ref', () => {
    expect(ok(gen({ event: 'tag', ref: 'v1.0' }))).toMatchObject({ event: 'tag', ref: 'refs/tags/v1.0', tag: 'v1.0', branch: null });
    expect(ok(gen({ ref: 'refs/tags/v1.0' })).event).toBe('tag');
    expect(ignoredReason(gen({ event: 'tag', ref: 'refs/heads/main' }))).toContain('needs a tag ref');
  });

  it('pull_request with an explicit branch', () => {
    expect(ok(gen({ event: 'pull_request', ref: 'refs/pull/3/head', branch: 'feat', commitSha: SHA }))).toMatchObject({ event: 'pull_request', ref: 'refs/pull/3/head', branch: 'feat' });
    expect(ok(gen({ event: 'pull_request', ref: 'feat' }))).toMatchObject({ ref: 'refs/heads/feat', branch: 'feat' });
  });

  it('the x-arcentra-event header supplies the event when the body has none', () => {
    expect(ok(gen({ ref: 'v3' }, { 'x-arcentra-event': 'tag' })).event).toBe('tag');
  });

  it('unsupported or incomplete payloads are ignored with a reason', () => {
    expect(ignoredReason(gen({ event: 'release', ref: 'main' }))).toBe('unsupported event "release"');
    expect(ignoredReason(gen({ event: 5, ref: 'main' }))).toBe('unsupported event "number"');
    expect(ignoredReason(gen({}))).toBe('generic event without a ref');
    expect(ignoredReason(gen({ ref: 'main', commitSha: 'HEAD~1' }))).toContain('invalid commit sha');
  });
});

describe('any provider', () => {
  it.each(['github', 'gitlab', 'gitea', 'generic'] as const)('%s: a payload that is not an object is ignored', (provider) => {
    for (const payload of [null, undefined, 'push', 42, true, [], [{ ref: 'refs/heads/main' }]]) {
      expect(normalizeEvent(provider, {}, payload)).toEqual({ ok: false, ignored: 'payload is not a JSON object' });
    }
  });

  it('wrong types in every field never throw', () => {
    const junk = [null, 1, 'x', [], {}, [null], [{ added: 'x' }], { full_name: 5 }, true];
    const fields = ['ref', 'after', 'deleted', 'commits', 'pusher', 'sender', 'repository', 'pull_request', 'number', 'action', 'object_attributes', 'project', 'checkout_sha', 'total_commits_count', 'event', 'paths', 'commitSha'];
    const headers = [{ 'x-github-event': 'push' }, { 'x-github-event': 'pull_request' }, { 'x-gitlab-event': 'Push Hook' }, { 'x-gitlab-event': 'Merge Request Hook' }, { 'x-gitea-event': 'push' }, { 'x-gitea-event': 'pull_request' }, {}];
    for (const provider of ['github', 'gitlab', 'gitea', 'generic'] as const) {
      for (const h of headers) for (const field of fields) for (const value of junk) {
        const result = normalizeEvent(provider, h, { ref: 'refs/heads/main', action: 'opened', [field]: value });
        expect(typeof result.ok).toBe('boolean');
      }
    }
  });

  it('inherited properties of the payload are not read', () => {
    const payload = Object.create({ ref: 'refs/heads/main' }) as object;
    expect(normalizeEvent('generic', {}, payload)).toEqual({ ok: false, ignored: 'generic event without a ref' });
  });
});
