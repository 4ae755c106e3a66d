// Pull request providers against a local HTTP server that records each request and answers the
// way GitHub, GitLab and Gitea do.
import { createServer, type IncomingHttpHeaders, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseRepoLocation, providerFor, ProviderError } from '../../src/git/providers';

interface Recorded {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: any;
}

const TOKEN = 'tok_ShouldNeverLeak_123';
const credentials = { kind: 'token' as const, token: TOKEN };
const requests: Recorded[] = [];
let answer: { status: number; body: unknown } = { status: 201, body: {} };
let api = '';

const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
  req.on('end', () => {
    requests.push({ method: req.method, url: req.url, headers: req.headers, body: raw ? JSON.parse(raw) : null });
    res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer.body));
  });
});

beforeAll(async () => {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  requests.length = 0;
});

const pr = { sourceBranch: 'arcentra/edit-1', targetBranch: 'main', title: 'Update pipeline', body: 'Edited in Arcentra', credentials };

describe('providerFor', () => {
  it('picks the provider from well-known hosts, or from kind', () => {
    expect(providerFor('https://github.com/acme/repo.git')?.kind).toBe('github');
    expect(providerFor('git@gitlab.com:group/sub/repo.git')?.kind).toBe('gitlab');
    expect(providerFor('https://codeberg.org/acme/repo')?.kind).toBe('gitea');
    expect(providerFor('https://git.example.com/acme/repo.git')).toBeNull();
    expect(providerFor('https://git.example.com/acme/repo.git', { kind: 'gitea' })?.kind).toBe('gitea');
    expect(providerFor('file:///srv/repo.git', { kind: 'github' })).toBeNull();
    expect(providerFor('/srv/repo.git')).toBeNull();
  });

  it('parses owner/repo from https, ssh and scp-like URLs', () => {
    expect(parseRepoLocation('https://github.com/acme/repo.git')).toEqual({ host: 'github.com', path: 'acme/repo' });
    expect(parseRepoLocation('https://git.example.com:8443/acme/repo/')).toEqual({ host: 'git.example.com:8443', path: 'acme/repo' });
    expect(parseRepoLocation('ssh://git@git.example.com:2222/acme/repo.git')).toEqual({ host: 'git.example.com', path: 'acme/repo' });
    expect(parseRepoLocation('git@gitlab.com:group/sub/repo.git')).toEqual({ host: 'gitlab.com', path: 'group/sub/repo' });
  });
});

describe('GitHub', () => {
  it('posts the documented request and returns the URL and number', async () => {
    answer = { status: 201, body: { html_url: 'https://github.com/acme/repo/pull/7', number: 7 } };
    const provider = providerFor('git@github.com:acme/repo.git', { apiBaseUrl: `${api}/` })!;
    expect(await provider.open({ repoUrl: 'git@github.com:acme/repo.git', ...pr })).toEqual({ url: 'https://github.com/acme/repo/pull/7', number: 7 });
    expect(requests).toHaveLength(1);
    const [req] = requests;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/repos/acme/repo/pulls');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers.accept).toBe('application/vnd.github+json');
    expect(req.headers['x-github-api-version']).toBe('2022-11-28');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toEqual({ title: 'Update pipeline', head: 'arcentra/edit-1', base: 'main', body: 'Edited in Arcentra' });
  });

  it('turns a 422 into an error with the status and GitHub message, without the token', async () => {
    answer = { status: 422, body: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for acme:arcentra/edit-1 (${TOKEN}).` }] } };
    const provider = providerFor('https://github.com/acme/repo.git', { apiBaseUrl: api })!;
    const err = (await provider.open({ repoUrl: 'https://github.com/acme/repo.git', ...pr }).catch((e: unknown) => e)) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(422);
    expect(err.message).toMatch(/GitHub/);
    expect(err.message).toMatch(/422/);
    expect(err.message).toMatch(/Validation Failed/);
    expect(err.message).toMatch(/A pull request already exists/);
    expect(err.message).not.toContain(TOKEN);
  });
});

describe('GitLab', () => {
  it('posts a merge request for the URL-encoded project path', async () => {
    answer = { status: 201, body: { web_url: 'https://gitlab.com/group/sub/repo/-/merge_requests/3', iid: 3, id: 99123 } };
    const repoUrl = 'https://gitlab.com/group/sub/repo.git';
    expect(await providerFor(repoUrl, { apiBaseUrl: api })!.open({ repoUrl, ...pr })).toEqual({ url: 'https://gitlab.com/group/sub/repo/-/merge_requests/3', number: 3 });
    const [req] = requests;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/projects/group%2Fsub%2Frepo/merge_requests');
    expect(req.headers['private-token']).toBe(TOKEN);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toEqual({ source_branch: 'arcentra/edit-1', target_branch: 'main', title: 'Update pipeline', description: 'Edited in Arcentra' });
  });

  it('turns a 422 into an error with the status and GitLab message, without the token', async () => {
    answer = { status: 422, body: { message: ['Another open merge request already exists for this source branch: !3'] } };
    const repoUrl = 'https://gitlab.com/group/repo.git';
    const err = (await providerFor(repoUrl, { apiBaseUrl: api })!.open({ repoUrl, ...pr }).catch((e: unknown) => e)) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.message).toMatch(/GitLab.*422.*Another open merge request already exists/);
    expect(err.message).not.toContain(TOKEN);
  });
});

describe('Gitea', () => {
  it('posts a pull request with a token authorization header', async () => {
    answer = { status: 201, body: { html_url: 'https://git.example.com/acme/repo/pulls/12', number: 12 } };
    const repoUrl = 'https://git.example.com/acme/repo.git';
    expect(await providerFor(repoUrl, { kind: 'gitea', apiBaseUrl: api })!.open({ repoUrl, ...pr })).toEqual({ url: 'https://git.example.com/acme/repo/pulls/12', number: 12 });
    const [req] = requests;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/repos/acme/repo/pulls');
    expect(req.headers.authorization).toBe(`token ${TOKEN}`);
    expect(req.body).toEqual({ head: 'arcentra/edit-1', base: 'main', title: 'Update pipeline', body: 'Edited in Arcentra' });
  });

  it('turns a 422 into an error with the status and Gitea message, without the token', async () => {
    answer = { status: 422, body: { message: 'pull request already exists for these targets', url: 'https://git.example.com/api/swagger' } };
    const repoUrl = 'git@git.example.com:acme/repo.git';
    const err = (await providerFor(repoUrl, { kind: 'gitea', apiBaseUrl: api })!.open({ repoUrl, ...pr }).catch((e: unknown) => e)) as ProviderError;
    expect(err.message).toMatch(/Gitea.*422.*pull request already exists for these targets/);
    expect(err.message).not.toContain(TOKEN);
  });
});

describe('failures before and around the request', () => {
  it('needs token credentials and sends nothing without them', async () => {
    const repoUrl = 'https://github.com/acme/repo.git';
    await expect(providerFor(repoUrl, { apiBaseUrl: api })!.open({ repoUrl, ...pr, credentials: undefined })).rejects.toThrow(/needs token credentials/);
    expect(requests).toHaveLength(0);
  });

  it('does not follow redirects that would carry the token elsewhere', async () => {
    answer = { status: 307, body: { message: 'moved' } };
    const repoUrl = 'https://github.com/acme/repo.git';
    await expect(providerFor(repoUrl, { apiBaseUrl: api })!.open({ repoUrl, ...pr })).rejects.toThrow(/HTTP 307/);
    expect(requests).toHaveLength(1);
  });

  // A server that never answers, and one whose body stalls after the headers.
  const stalls: Array<[string, RequestListener]> = [
    ['never answers', () => undefined],
    [
      'stalls its body after the headers',
      (_req, res) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.write('{"html_url":');
      },
    ],
  ];
  it.each(stalls)('gives up after the timeout on a server that %s', async (_what, handler) => {
    const repoUrl = 'https://github.com/acme/repo.git';
    const stalling = createServer(handler);
    await new Promise<void>((done) => stalling.listen(0, '127.0.0.1', done));
    try {
      const stallingApi = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`;
      await expect(providerFor(repoUrl, { apiBaseUrl: stallingApi, timeoutMs: 200 })!.open({ repoUrl, ...pr })).rejects.toThrow(/did not answer within 200 ms/);
    } finally {
      stalling.closeAllConnections();
      stalling.close();
    }
  });
});
