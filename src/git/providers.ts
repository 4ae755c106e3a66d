// Opening pull (merge) requests on the hosting service behind a repository URL. Each provider is
// one REST call; the token only ever travels in a request header.
import type { Credentials } from './credentials';
import { isLocalRepoUrl } from './repo-url';
import { DeadlineError, exchange } from '../http-exchange';
import type { HttpAnswer } from '../http-exchange';

export type ProviderKind = 'github' | 'gitlab' | 'gitea';

export interface OpenPullRequestInput {
  repoUrl: string;
  sourceBranch: string;
  targetBranch: string;
  title: string;
  body: string;
  credentials?: Credentials;
}

export interface PullRequestProvider {
  readonly kind: ProviderKind;
  open(input: OpenPullRequestInput): Promise<{ url: string; number: number }>;
}

export interface ProviderOptions {
  /** The REST API root, e.g. https://git.example.com/api/v4; defaults from the repository host. */
  apiBaseUrl?: string;
  /** Which API the host speaks, for hosts not recognised by name (self-hosted ones). */
  kind?: ProviderKind;
  /** Per request. Default 15 s. */
  timeoutMs?: number;
  /** owner/repo on the provider, when the clone URL does not say it (with kind and apiBaseUrl). */
  repository?: string;
}

export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    message: string,
    /** The HTTP status, when the provider answered at all. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_PROVIDER_MESSAGE = 500;
const KNOWN_HOSTS: Record<string, ProviderKind> = {
  'github.com': 'github',
  'gitlab.com': 'gitlab',
  'codeberg.org': 'gitea',
  'gitea.com': 'gitea',
};
const PROVIDER_NAMES: Record<ProviderKind, string> = { github: 'GitHub', gitlab: 'GitLab', gitea: 'Gitea' };

/** Host and repository path (owner/repo, or group/subgroup/repo on GitLab) of an https, ssh or scp-like URL. */
export function parseRepoLocation(repoUrl: string): { host: string; path: string } | null {
  let host: string;
  let path: string;
  if (/^(https|ssh|git):\/\//i.test(repoUrl)) {
    let parsed: URL;
    try {
      parsed = new URL(repoUrl);
    } catch {
      return null;
    }
    // An ssh port is the ssh daemon's, not the web server's.
    host = /^https:/i.test(repoUrl) ? parsed.host : parsed.hostname;
    path = decodeURIComponent(parsed.pathname);
  } else {
    const scp = /^(?:[^@/:]+@)?([^:/]+):(.+)$/.exec(repoUrl);
    if (!scp) return null;
    host = scp[1];
    path = scp[2];
  }
  path = path.replace(/^\/+/, '').replace(/\/+$/, '').replace(/\.git$/, '');
  if (!host || !path || path.split('/').some((s) => s === '' || s === '.' || s === '..')) return null;
  return { host: host.toLowerCase(), path };
}

/**
 * The provider for a repository, or null for local repositories and for hosts not known by name
 * when no kind is given.
 */
export function providerFor(repoUrl: string, opts: ProviderOptions = {}): PullRequestProvider | null {
  // Configured explicitly (kind, API and repository path), a provider serves any clone URL, local ones included.
  if (opts.kind && opts.apiBaseUrl && opts.repository) {
    const make = { github: githubProvider, gitlab: gitlabProvider, gitea: giteaProvider }[opts.kind];
    return make({ apiBaseUrl: opts.apiBaseUrl.replace(/\/+$/, ''), path: opts.repository, timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, fixedPath: true });
  }
  if (isLocalRepoUrl(repoUrl)) return null;
  const location = parseRepoLocation(repoUrl);
  if (!location) return null;
  const kind = opts.kind ?? KNOWN_HOSTS[location.host.replace(/:\d+$/, '')];
  if (!kind) return null;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const apiBaseUrl = (opts.apiBaseUrl ?? defaultApiBase(kind, location.host)).replace(/\/+$/, '');
  const make = { github: githubProvider, gitlab: gitlabProvider, gitea: giteaProvider }[kind];
  return make({ apiBaseUrl, path: location.path, timeoutMs });
}

function defaultApiBase(kind: ProviderKind, host: string): string {
  if (kind === 'github') return host === 'github.com' ? 'https://api.github.com' : `https://${host}/api/v3`; // GitHub Enterprise Server
  if (kind === 'gitlab') return `https://${host}/api/v4`;
  return `https://${host}/api/v1`;
}

interface ProviderConfig {
  apiBaseUrl: string;
  /** Repository path parsed from the URL the provider was made for. */
  path: string;
  timeoutMs: number;
  /** The path was configured, not parsed: the clone URL says nothing about it. */
  fixedPath?: boolean;
}

function ownerAndRepo(provider: string, path: string) {
  const parts = path.split('/');
  if (parts.length !== 2) throw new ProviderError(provider, `${provider} repository path must be owner/repo, got "${path}"`);
  return { owner: encodeURIComponent(parts[0]), repo: encodeURIComponent(parts[1]) };
}

function githubProvider(config: ProviderConfig): PullRequestProvider {
  const name = PROVIDER_NAMES.github;
  return {
    kind: 'github',
    async open(input) {
      const token = tokenOf(name, input.credentials);
      const { owner, repo } = ownerAndRepo(name, pathFor(config, input.repoUrl));
      const answer = await postJson(name, `${config.apiBaseUrl}/repos/${owner}/${repo}/pulls`, {
        token,
        timeoutMs: config.timeoutMs,
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' },
        body: { title: input.title, head: input.sourceBranch, base: input.targetBranch, body: input.body },
      });
      return resultOf(name, answer.html_url, answer.number);
    },
  };
}

function gitlabProvider(config: ProviderConfig): PullRequestProvider {
  const name = PROVIDER_NAMES.gitlab;
  return {
    kind: 'gitlab',
    async open(input) {
      const token = tokenOf(name, input.credentials);
      const project = encodeURIComponent(pathFor(config, input.repoUrl));
      const answer = await postJson(name, `${config.apiBaseUrl}/projects/${project}/merge_requests`, {
        token,
        timeoutMs: config.timeoutMs,
        headers: { 'PRIVATE-TOKEN': token },
        body: { source_branch: input.sourceBranch, target_branch: input.targetBranch, title: input.title, description: input.body },
      });
      return resultOf(name, answer.web_url, answer.iid);
    },
  };
}

function giteaProvider(config: ProviderConfig): PullRequestProvider {
  const name = PROVIDER_NAMES.gitea;
  return {
    kind: 'gitea',
    async open(input) {
      const token = tokenOf(name, input.credentials);
      const { owner, repo } = ownerAndRepo(name, pathFor(config, input.repoUrl));
      const answer = await postJson(name, `${config.apiBaseUrl}/repos/${owner}/${repo}/pulls`, {
        token,
        timeoutMs: config.timeoutMs,
        headers: { Authorization: `token ${token}` },
        body: { head: input.sourceBranch, base: input.targetBranch, title: input.title, body: input.body },
      });
      return resultOf(name, answer.html_url, answer.number);
    },
  };
}

/** The repository path of this call's URL; normally the one the provider was made for. */
function pathFor(config: ProviderConfig, repoUrl: string): string {
  if (config.fixedPath) return config.path;
  return parseRepoLocation(repoUrl)?.path ?? config.path;
}

function tokenOf(provider: string, credentials: Credentials | undefined): string {
  if (credentials?.kind !== 'token' || !credentials.token) throw new ProviderError(provider, `opening a ${provider} pull request needs token credentials`);
  return credentials.token;
}

function resultOf(provider: string, url: unknown, number: unknown) {
  if (typeof url !== 'string' || typeof number !== 'number') throw new ProviderError(provider, `${provider} answered without a pull request URL and number`);
  return { url, number };
}

async function postJson(
  provider: string,
  url: string,
  req: { token: string; timeoutMs: number; headers: Record<string, string>; body: Record<string, string> },
): Promise<Record<string, unknown>> {
  const redact = (text: string) => text.split(req.token).join('***');
  let res: HttpAnswer;
  try {
    res = await exchange(
      url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'User-Agent': 'arcentra', ...req.headers },
        body: JSON.stringify(req.body),
        // A redirect would carry the token header to wherever it points; refuse instead.
        redirect: 'manual',
      },
      req.timeoutMs,
    );
  } catch (err) {
    const e = err as Error;
    if (e instanceof DeadlineError) throw new ProviderError(provider, `${provider} did not answer within ${req.timeoutMs} ms`);
    const cause = (e.cause as Error | undefined)?.message;
    throw new ProviderError(provider, redact(`${provider} request failed: ${e.message}${cause ? ` (${cause})` : ''}`));
  }
  const text = res.text;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (res.status < 200 || res.status > 299) {
    const detail = providerMessage(json) ?? text.trim();
    const message = `${provider} refused to open the pull request: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${detail ? `: ${detail}` : ''}`;
    throw new ProviderError(provider, redact(message).slice(0, MAX_PROVIDER_MESSAGE), res.status);
  }
  if (!json || typeof json !== 'object') throw new ProviderError(provider, `${provider} answered HTTP ${res.status} without a JSON object`, res.status);
  return json as Record<string, unknown>;
}

/** The human part of an error answer: GitHub's message and errors[], GitLab's message (string, list or map), Gitea's message. */
function providerMessage(json: unknown): string | null {
  if (!json || typeof json !== 'object') return null;
  const j = json as Record<string, unknown>;
  const parts: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.trim()) parts.push(v.trim());
    else if (Array.isArray(v)) v.forEach(add);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.message === 'string') add(o.message);
      else for (const [key, value] of Object.entries(o)) parts.push(`${key}: ${[value].flat().join(', ')}`);
    }
  };
  add(j.message);
  add(j.error);
  if (Array.isArray(j.errors)) add(j.errors);
  return parts.length ? parts.join('; ') : null;
}
