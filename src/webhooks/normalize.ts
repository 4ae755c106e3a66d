// Turns a provider's webhook payload into one event shape that triggers can match.
// Payloads are untrusted JSON: every field is read defensively, and nothing here throws.
import { headerValue } from './signatures';
import type { WebhookHeaders, WebhookProvider } from './signatures';

export interface NormalizedEvent {
  event: 'push' | 'tag' | 'pull_request';
  ref: string;
  branch: string | null;
  tag: string | null;
  commitSha: string | null;
  actor: string | null;
  repo: string | null;
  /** Files touched by the pushed commits; empty when unknown (tags, pull requests, truncated payloads). */
  changedPaths: string[];
}

export type NormalizeResult = { ok: true; event: NormalizedEvent } | { ok: false; ignored: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const get = (v: unknown, ...path: string[]): unknown => {
  let cur = v;
  for (const key of path) {
    if (!isObj(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
};
/** A non-empty, bounded string or null. */
const text = (v: unknown, max = 256): string | null => {
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t !== '' && t.length <= max ? t : null;
};
const first = (...values: unknown[]): string | null => values.map((v) => text(v)).find((v) => v !== null) ?? null;
/** Attacker-supplied text echoed in a reason: quoted and cut short. */
const quote = (v: unknown) => JSON.stringify(typeof v === 'string' ? v.slice(0, 64) : v === undefined ? 'undefined' : typeof v);
const ignored = (reason: string): NormalizeResult => ({ ok: false, ignored: reason });

const ZERO_SHA = /^0+$/;
const SHA = /^[0-9a-f]{7,64}$/i;
const MAX_PATHS = 10_000;

/**
 * Roughly `git check-ref-format`: refs reach git commands and expressions later, so control
 * characters, spaces, `..`, a leading `-` and the like are refused here (defence in depth).
 */
function isSafeRef(ref: string): boolean {
  return ref.length <= 255 && ref.startsWith('refs/') && !/[\x00-\x20\x7f~^:?*[\\]|\.\.|@\{|\/\/|\/\.|\/-|[./]$|\.lock(?:\/|$)/.test(ref);
}

interface Details { commitSha?: unknown; actor: string | null; repo: string | null; changedPaths?: string[]; branch?: string | null }

function build(event: NormalizedEvent['event'], ref: string, d: Details): NormalizeResult {
  if (!isSafeRef(ref)) return ignored(`invalid ref ${quote(ref)}`);
  let commitSha: string | null = null;
  if (d.commitSha !== undefined && d.commitSha !== null) {
    if (typeof d.commitSha !== 'string' || !SHA.test(d.commitSha)) return ignored(`invalid commit sha ${quote(d.commitSha)}`);
    commitSha = d.commitSha.toLowerCase();
  }
  const branch = event === 'tag' ? null : (d.branch ?? (ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null));
  if (branch !== null && !isSafeRef(`refs/heads/${branch}`)) return ignored(`invalid branch ${quote(branch)}`);
  const tag = event === 'tag' ? ref.slice('refs/tags/'.length) : null;
  return { ok: true, event: { event, ref, branch, tag, commitSha, actor: d.actor, repo: d.repo, changedPaths: d.changedPaths ?? [] } };
}

/** Union of commits[].added/modified/removed; empty (= unknown) when the provider truncated the list. */
function commitPaths(commits: unknown, total: unknown): string[] {
  if (!Array.isArray(commits)) return [];
  // GitLab sends at most 20 commits, Gitea 5 by default, GitHub 2048: judging paths from a partial
  // list could skip a run whose change sits in a commit left out, so partial means unknown.
  if (typeof total === 'number' && total > commits.length) return [];
  const paths = new Set<string>();
  for (const commit of commits) {
    for (const kind of ['added', 'modified', 'removed']) {
      const list = get(commit, kind);
      if (!Array.isArray(list)) continue;
      for (const p of list) if (typeof p === 'string' && p !== '' && p.length <= 4096) paths.add(p);
      if (paths.size > MAX_PATHS) return [];
    }
  }
  return [...paths];
}

/** A push of a branch or tag, shared by every provider once their field names are mapped. */
function push(ref: unknown, after: unknown, deleted: boolean, d: Details): NormalizeResult {
  const r = text(ref, 1024);
  if (r === null) return ignored('push without a ref');
  if (deleted || (typeof after === 'string' && ZERO_SHA.test(after))) return ignored(`deletion of ${quote(r)}`);
  if (r.startsWith('refs/heads/')) return build('push', r, d);
  if (r.startsWith('refs/tags/')) return build('tag', r, { ...d, changedPaths: [] });
  return ignored(`unsupported ref ${quote(r)}`);
}

/** A pull/merge request's head, with `refNs` the provider's ref namespace (`refs/pull`, `refs/merge-requests`). */
function pullRequest(refNs: string, number: unknown, branch: unknown, sha: unknown, d: Details): NormalizeResult {
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number <= 0) return ignored(`pull request without a valid number (${quote(number)})`);
  const b = text(branch, 255);
  if (b === null) return ignored('pull request without a head branch');
  return build('pull_request', `${refNs}/${number}/head`, { ...d, commitSha: sha, branch: b, changedPaths: [] });
}

function github(event: string, p: Obj): NormalizeResult {
  const repo = text(get(p, 'repository', 'full_name'));
  if (event === 'ping') return ignored('ping');
  if (event === 'push') {
    const commits = p.commits;
    const truncated = Array.isArray(commits) && commits.length >= 2048 ? Infinity : undefined;
    return push(p.ref, p.after, p.deleted === true, {
      commitSha: p.after ?? get(p, 'head_commit', 'id'), actor: first(get(p, 'pusher', 'name'), get(p, 'sender', 'login')), repo,
      changedPaths: commitPaths(commits, truncated),
    });
  }
  if (event === 'pull_request') {
    const action = p.action;
    if (action !== 'opened' && action !== 'synchronize' && action !== 'reopened') return ignored(`pull_request action ${quote(action)} does not start runs`);
    return pullRequest('refs/pull', p.number ?? get(p, 'pull_request', 'number'), get(p, 'pull_request', 'head', 'ref'), get(p, 'pull_request', 'head', 'sha'), {
      actor: text(get(p, 'sender', 'login')), repo,
    });
  }
  return ignored(`unsupported GitHub event ${quote(event)}`);
}

const GITLAB_KINDS: Record<string, string> = { push: 'Push Hook', tag_push: 'Tag Push Hook', merge_request: 'Merge Request Hook' };

function gitlab(event: string, p: Obj): NormalizeResult {
  const repo = text(get(p, 'project', 'path_with_namespace'));
  if (event === 'Push Hook' || event === 'Tag Push Hook') {
    return push(p.ref, p.after, false, {
      commitSha: p.checkout_sha ?? p.after, actor: first(p.user_username, p.user_name), repo,
      changedPaths: commitPaths(p.commits, p.total_commits_count),
    });
  }
  if (event === 'Merge Request Hook') {
    const attrs = get(p, 'object_attributes');
    const action = get(attrs, 'action');
    if (action !== 'open' && action !== 'reopen' && action !== 'update') return ignored(`merge request action ${quote(action)} does not start runs`);
    // GitLab sets `oldrev` only when an update brings new commits; title or label edits carry none.
    if (action === 'update' && text(get(attrs, 'oldrev')) === null) return ignored('merge request update without new commits');
    return pullRequest('refs/merge-requests', get(attrs, 'iid'), get(attrs, 'source_branch'), get(attrs, 'last_commit', 'id'), {
      actor: first(get(p, 'user', 'username'), get(p, 'user', 'name')), repo,
    });
  }
  return ignored(`unsupported GitLab event ${quote(event)}`);
}

function gitea(event: string, p: Obj): NormalizeResult {
  const repo = text(get(p, 'repository', 'full_name'));
  const sender = first(get(p, 'sender', 'login'), get(p, 'sender', 'username'));
  if (event === 'push') {
    return push(p.ref, p.after, false, {
      commitSha: p.after, actor: first(get(p, 'pusher', 'login'), get(p, 'pusher', 'username'), sender), repo,
      changedPaths: commitPaths(p.commits, p.total_commits),
    });
  }
  // Gitea sends a new tag twice, as `push` (refs/tags/…) and as `create`; only the push starts a run,
  // so a hook subscribed to both events does not run the pipeline twice.
  if (event === 'create') return ignored('Gitea "create" is ignored: new tags arrive as push events');
  if (event === 'pull_request') {
    const action = p.action;
    // Gitea spells the new-commits action "synchronized"; label/assign changes arrive with other actions.
    if (action !== 'opened' && action !== 'reopened' && action !== 'synchronized' && action !== 'synchronize') {
      return ignored(`pull_request action ${quote(action)} does not start runs`);
    }
    return pullRequest('refs/pull', p.number ?? get(p, 'pull_request', 'number'), get(p, 'pull_request', 'head', 'ref'), get(p, 'pull_request', 'head', 'sha'), {
      actor: sender, repo,
    });
  }
  return ignored(`unsupported Gitea event ${quote(event)}`);
}

/** Generic JSON `{event, ref, commitSha, actor, repo, paths}`; a bare ref names a branch (or a tag for `tag`). */
function generic(headers: WebhookHeaders, p: Obj): NormalizeResult {
  const event = p.event ?? headerValue(headers, 'x-arcentra-event') ?? 'push';
  if (event !== 'push' && event !== 'tag' && event !== 'pull_request') return ignored(`unsupported event ${quote(event)}`);
  const raw = text(p.ref, 1024);
  if (raw === null) return ignored('generic event without a ref');
  const ref = raw.startsWith('refs/') ? raw : `${event === 'tag' ? 'refs/tags/' : 'refs/heads/'}${raw}`;
  const paths = Array.isArray(p.paths) ? p.paths.filter((x): x is string => typeof x === 'string' && x !== '' && x.length <= 4096) : [];
  const d: Details = {
    commitSha: p.commitSha, actor: text(p.actor), repo: text(p.repo), changedPaths: paths.length > MAX_PATHS ? [] : paths,
  };
  if (event === 'pull_request') return build('pull_request', ref, { ...d, branch: text(p.branch, 255) ?? undefined });
  if (ref.startsWith('refs/tags/')) return build('tag', ref, { ...d, changedPaths: [] });
  if (event === 'tag') return ignored(`event "tag" needs a tag ref, got ${quote(ref)}`);
  if (!ref.startsWith('refs/heads/')) return ignored(`unsupported ref ${quote(ref)}`);
  return build('push', ref, d);
}

export function normalizeEvent(provider: WebhookProvider, headers: WebhookHeaders, payload: unknown): NormalizeResult {
  if (!isObj(payload)) return ignored('payload is not a JSON object');
  // Own properties only: nothing inherited (a polluted prototype, a class instance) is read as data.
  const own: Obj = Object.fromEntries(Object.entries(payload));
  switch (provider) {
    case 'github':
      return github(headerValue(headers, 'x-github-event') ?? '', own);
    case 'gitlab': {
      const kind = own.object_kind;
      const fallback = typeof kind === 'string' && Object.hasOwn(GITLAB_KINDS, kind) ? GITLAB_KINDS[kind] : '';
      return gitlab(headerValue(headers, 'x-gitlab-event') ?? fallback, own);
    }
    case 'gitea':
      return gitea(headerValue(headers, 'x-gitea-event') ?? '', own);
    case 'generic':
      return generic(headers, own);
    default:
      return ignored(`unknown webhook provider ${quote(provider)}`);
  }
}
