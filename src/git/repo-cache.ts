// Pipeline definitions kept in git: one cached bare clone per repository, read and written with
// the git CLI and no working tree. Writes are compare-and-swap: a commit is pushed only if the
// branch is still where the caller saw it, which the remote checks under its ref lock.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Credentials } from './credentials';
import { checkPipelineFilePath, checkRepoUrl, isLocalRepoUrl } from './repo-url';

export type GitErrorKind = 'branch_not_found' | 'auth' | 'unreachable' | 'conflict' | 'other';

export class GitError extends Error {
  constructor(
    readonly kind: GitErrorKind,
    message: string,
    /** For 'conflict': where the branch is now (null when it does not exist). */
    readonly currentHeadSha?: string | null,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

export interface Author {
  name: string;
  email: string;
}

export interface RepoCacheOptions {
  cacheDir: string;
  /** Per git command; a slow remote fails with kind 'unreachable'. Default 60 s. */
  timeoutMs?: number;
}

export type ReadResult = { content: string; commitSha: string } | { missing: true; commitSha: string };

export interface CommitFileInput {
  repoUrl: string;
  /** The branch to update, or to create when baseBranch names another branch (pull request mode). */
  branch: string;
  baseBranch?: string;
  path: string;
  content: string;
  message: string;
  author: Author;
  /** The head of baseBranch ?? branch the edit was made against; a different head is a conflict. */
  expectedHeadSha?: string;
  credentials?: Credentials;
}

export interface RepoCache {
  readFile(input: { repoUrl: string; branch: string; path: string; credentials?: Credentials }): Promise<ReadResult>;
  readFileAt(input: { repoUrl: string; commitSha: string; path: string; credentials?: Credentials }): Promise<ReadResult>;
  commitFile(input: CommitFileInput): Promise<{ commitSha: string; branch: string }>;
  headOf(input: { repoUrl: string; branch: string; credentials?: Credentials }): Promise<string | null>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const MAX_STDERR_IN_MESSAGE = 800;
// git's advice after a failed fetch, which says nothing the first line did not.
const BOILERPLATE = /^(please make sure you have the correct access rights|and the repository exists\.)$/i;
const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const TRACKING_PREFIX = 'refs/remotes/origin/';

// Inherited variables that would point git at another repository, index or object store, or make
// it trace (and so print) its traffic. Everything else, like proxies and CA files, stays.
const STRIPPED_ENV = /^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|NAMESPACE|COMMON_DIR|CEILING_DIRECTORIES|DISCOVERY_ACROSS_FILESYSTEM|TRACE.*|CURL_VERBOSE|CONFIG_COUNT|CONFIG_KEY_\d+|CONFIG_VALUE_\d+|CONFIG_PARAMETERS|AUTHOR_.*|COMMITTER_.*|ASKPASS|ALLOW_PROTOCOL|PROTOCOL_FROM_USER|REFLOG_ACTION|QUARANTINE_PATH|REPLACE_REF_BASE|NO_REPLACE_OBJECTS|GRAFT_FILE|SHALLOW_FILE)$/;

// Operations on one bare clone run one after another within this process: keyed by the clone's
// directory, so two caches sharing a cacheDir also take turns.
const repoChains = new Map<string, Promise<void>>();

async function withRepoLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = repoChains.get(key) ?? Promise.resolve();
  const run = previous.then(fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  repoChains.set(key, settled);
  try {
    return await run;
  } finally {
    if (repoChains.get(key) === settled) repoChains.delete(key);
  }
}

/** The directory name of a repository's bare clone: no credentials, nothing from the URL's text. */
export function cacheKeyOf(repoUrl: string): string {
  return createHash('sha256').update(repoUrl).digest('hex').slice(0, 16);
}

export function createRepoCache(options: RepoCacheOptions): RepoCache {
  const cacheDir = resolve(options.cacheDir);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  function repoDirOf(repoUrl: string) {
    return join(cacheDir, cacheKeyOf(repoUrl));
  }

  /** Creates the bare clone on first use, atomically so a crash or a second process leaves no half repo. */
  async function ensureRepo(repoDir: string, session: GitSession) {
    if (existsSync(join(repoDir, 'HEAD'))) return;
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 }); // clones of private repositories
    const tmp = mkdtempSync(join(cacheDir, '.init-'));
    try {
      // No templates: a user's init.templateDir could bring hooks along.
      await session.git(['init', '--bare', '--quiet', '--template=', tmp], { what: 'git init', cwd: cacheDir });
      await session.git(['config', 'core.logAllRefUpdates', 'false'], { what: 'git config', gitDir: tmp });
      try {
        renameSync(tmp, repoDir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Fetches a branch into refs/remotes/origin/<branch> and returns its head. */
  async function fetchBranch(session: GitSession, repoDir: string, branch: string): Promise<string> {
    try {
      await session.git(['fetch', '--quiet', '--no-tags', '--', session.url, `+refs/heads/${branch}:${TRACKING_PREFIX}${branch}`], { what: 'git fetch', gitDir: repoDir });
    } catch (err) {
      if (err instanceof GitError && err.kind === 'branch_not_found') {
        throw new GitError('branch_not_found', `branch "${branch}" does not exist in ${session.url}`);
      }
      throw err;
    }
    return (await session.gitText(['rev-parse', '--verify', '--quiet', `${TRACKING_PREFIX}${branch}^{commit}`], { what: 'git rev-parse', gitDir: repoDir })).trim();
  }

  async function hasCommit(session: GitSession, repoDir: string, sha: string) {
    const r = await session.run(['cat-file', '-e', `${sha}^{commit}`], { what: 'git cat-file', gitDir: repoDir });
    return r.code === 0;
  }

  /** The file at a commit: its content, missing, or an error when the path is not a regular file. */
  async function readAt(session: GitSession, repoDir: string, commitSha: string, path: string): Promise<ReadResult> {
    const entry = await treeEntry(session, repoDir, commitSha, path);
    if (!entry) return { missing: true, commitSha };
    if (entry.type !== 'blob' || (entry.mode !== '100644' && entry.mode !== '100755')) {
      throw new GitError('other', `${path} at ${commitSha} is not a regular file`);
    }
    const blob = await session.git(['cat-file', 'blob', entry.sha], { what: 'git cat-file', gitDir: repoDir });
    return { content: blob.toString('utf8'), commitSha };
  }

  async function treeEntry(session: GitSession, repoDir: string, commitSha: string, path: string) {
    const out = await session.gitText(['ls-tree', '-z', '--full-tree', commitSha, '--', path], { what: 'git ls-tree', gitDir: repoDir });
    for (const record of out.split('\0')) {
      // "<mode> SP <type> SP <sha> TAB <path>"
      const tab = record.indexOf('\t');
      if (tab < 0 || record.slice(tab + 1) !== path) continue;
      const [mode, type, sha] = record.slice(0, tab).split(' ');
      return { mode, type, sha };
    }
    return null;
  }

  /** The remote head of a branch, or null when the branch does not exist. */
  async function remoteHead(session: GitSession, repoDir: string, branch: string): Promise<string | null> {
    const ref = `refs/heads/${branch}`;
    const out = await session.gitText(['ls-remote', '--', session.url, ref], { what: 'git ls-remote', gitDir: repoDir });
    for (const line of out.split('\n')) {
      const [sha, name] = line.split('\t');
      if (name === ref && sha) return sha;
    }
    return null;
  }

  /** Builds a commit that sets one file, through a throwaway index instead of a working tree. */
  async function buildCommit(session: GitSession, repoDir: string, input: CommitFileInput & { parent: string; path: string }) {
    const indexDir = mkdtempSync(join(tmpdir(), 'arcentra-index-'));
    const indexEnv = { GIT_INDEX_FILE: join(indexDir, 'index') };
    try {
      const blob = (await session.gitText(['hash-object', '-w', '--stdin'], { what: 'git hash-object', gitDir: repoDir, input: Buffer.from(input.content, 'utf8') })).trim();
      const existing = await treeEntry(session, repoDir, input.parent, input.path);
      // Keep an executable bit the file already had.
      const mode = existing?.type === 'blob' && existing.mode === '100755' ? '100755' : '100644';
      await session.git(['read-tree', input.parent], { what: 'git read-tree', gitDir: repoDir, env: indexEnv });
      await session.git(['update-index', '--add', '--cacheinfo', `${mode},${blob},${input.path}`], { what: 'git update-index', gitDir: repoDir, env: indexEnv });
      const tree = (await session.gitText(['write-tree'], { what: 'git write-tree', gitDir: repoDir, env: indexEnv })).trim();
      const identity = {
        GIT_AUTHOR_NAME: input.author.name,
        GIT_AUTHOR_EMAIL: input.author.email,
        GIT_COMMITTER_NAME: input.author.name,
        GIT_COMMITTER_EMAIL: input.author.email,
      };
      const message = input.message.endsWith('\n') ? input.message : `${input.message}\n`;
      // --no-gpg-sign: a user's commit.gpgSign must not make the server wait for a passphrase.
      const commit = await session.gitText(['commit-tree', '--no-gpg-sign', tree, '-p', input.parent, '-F', '-'], {
        what: 'git commit-tree',
        gitDir: repoDir,
        env: identity,
        input: Buffer.from(message, 'utf8'),
      });
      return commit.trim();
    } finally {
      rmSync(indexDir, { recursive: true, force: true });
    }
  }

  function sessionFor(repoUrl: string, credentials: Credentials | undefined) {
    return openSession(checkedUrl(repoUrl), credentials, timeoutMs);
  }

  return {
    async readFile({ repoUrl, branch, path, credentials }) {
      const filePath = checkedPath(path);
      checkBranch(branch);
      const repoDir = repoDirOf(repoUrl);
      return withRepoLock(repoDir, () =>
        withSession(sessionFor(repoUrl, credentials), async (session) => {
          await ensureRepo(repoDir, session);
          const head = await fetchBranch(session, repoDir, branch);
          return readAt(session, repoDir, head, filePath);
        }),
      );
    },

    async readFileAt({ repoUrl, commitSha, path, credentials }) {
      const filePath = checkedPath(path);
      if (typeof commitSha !== 'string' || !FULL_SHA.test(commitSha)) throw new GitError('other', 'commitSha must be a full lowercase hexadecimal commit id');
      const repoDir = repoDirOf(repoUrl);
      return withRepoLock(repoDir, () =>
        withSession(sessionFor(repoUrl, credentials), async (session) => {
          await ensureRepo(repoDir, session);
          if (!(await hasCommit(session, repoDir, commitSha))) {
            // Most servers hand out a reachable commit by id; older ones only whole branches.
            const byId = await session.run(['fetch', '--quiet', '--no-tags', '--', session.url, commitSha], { what: 'git fetch', gitDir: repoDir });
            if (byId.code !== 0 || !(await hasCommit(session, repoDir, commitSha))) {
              await session.git(['fetch', '--quiet', '--no-tags', '--', session.url, `+refs/heads/*:${TRACKING_PREFIX}*`], { what: 'git fetch', gitDir: repoDir });
            }
            if (!(await hasCommit(session, repoDir, commitSha))) throw new GitError('other', `commit ${commitSha} is not in ${session.url}`);
          }
          return readAt(session, repoDir, commitSha, filePath);
        }),
      );
    },

    async commitFile(input) {
      const filePath = checkedPath(input.path);
      checkBranch(input.branch);
      const baseBranch = input.baseBranch ?? input.branch;
      checkBranch(baseBranch);
      checkAuthor(input.author);
      if (typeof input.message !== 'string' || input.message.trim() === '') throw new GitError('other', 'commit message is empty');
      if (typeof input.content !== 'string') throw new GitError('other', 'file content must be a string');
      if (input.expectedHeadSha !== undefined && !FULL_SHA.test(input.expectedHeadSha)) throw new GitError('other', 'expectedHeadSha must be a full lowercase hexadecimal commit id');
      const createsBranch = baseBranch !== input.branch;
      const repoDir = repoDirOf(input.repoUrl);

      return withRepoLock(repoDir, () =>
        withSession(sessionFor(input.repoUrl, input.credentials), async (session) => {
          await ensureRepo(repoDir, session);
          if (createsBranch) {
            // A new branch for a pull request must really be new; later edits to it name it as branch.
            const existing = await remoteHead(session, repoDir, input.branch);
            if (existing) throw new GitError('conflict', `branch "${input.branch}" already exists`, existing);
          }
          const baseHead = await fetchBranch(session, repoDir, baseBranch);
          if (input.expectedHeadSha && input.expectedHeadSha !== baseHead) {
            throw new GitError('conflict', `branch "${baseBranch}" moved: expected ${input.expectedHeadSha}, now ${baseHead}`, baseHead);
          }
          const commitSha = await buildCommit(session, repoDir, { ...input, parent: baseHead, path: filePath });

          // The lease makes the remote refuse the update unless the branch is still at baseHead
          // (or, for a new branch, still absent), checked under the remote's ref lock.
          const lease = createsBranch ? '' : baseHead;
          const push = await session.run(['push', '--porcelain', '--quiet', `--force-with-lease=refs/heads/${input.branch}:${lease}`, '--', session.url, `${commitSha}:refs/heads/${input.branch}`], {
            what: 'git push',
            gitDir: repoDir,
          });
          if (push.code !== 0) {
            // Whatever the remote said, a moved branch is a conflict; anything else is reported as is.
            const now = await remoteHead(session, repoDir, input.branch);
            const expected = createsBranch ? null : baseHead;
            if (now !== expected) throw new GitError('conflict', `branch "${input.branch}" changed while committing; it is now ${now ?? 'deleted'}`, now);
            throw session.failure('git push', push);
          }
          await session.git(['update-ref', `${TRACKING_PREFIX}${input.branch}`, commitSha], { what: 'git update-ref', gitDir: repoDir });
          return { commitSha, branch: input.branch };
        }),
      );
    },

    async headOf({ repoUrl, branch, credentials }) {
      checkBranch(branch);
      const repoDir = repoDirOf(repoUrl);
      // ls-remote only reads the remote; it runs in the clone only so no other repository's config applies.
      return withSession(sessionFor(repoUrl, credentials), async (session) => {
        await withRepoLock(repoDir, () => ensureRepo(repoDir, session));
        return remoteHead(session, repoDir, branch);
      });
    },
  };
}

function checkedUrl(repoUrl: string): string {
  // The cache holds no policy on local repositories (the caller checked that); it only refuses
  // what is never safe to hand to git.
  const check = checkRepoUrl(repoUrl, { allowFileRepos: true });
  if (!check.ok) throw new GitError('other', check.message);
  return check.url;
}

function checkedPath(path: string): string {
  const check = checkPipelineFilePath(path);
  if (!check.ok) throw new GitError('other', check.message);
  return check.path;
}

/** The rules of git check-ref-format for a branch name, so a bad name fails before any process runs. */
function checkBranch(branch: string) {
  const bad =
    typeof branch !== 'string' ||
    branch.length === 0 ||
    branch.length > 255 ||
    branch.startsWith('-') ||
    branch.startsWith('/') ||
    branch.endsWith('/') ||
    branch.endsWith('.') ||
    branch.endsWith('.lock') ||
    branch === '@' ||
    branch.includes('..') ||
    branch.includes('//') ||
    branch.includes('@{') ||
    /[\u0000-\u0020\u007f~^:?*[\\]/.test(branch) ||
    branch.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'));
  if (bad) throw new GitError('other', `invalid branch name ${JSON.stringify(String(branch).slice(0, 100))}`);
}

function checkAuthor(author: Author) {
  const bad = (s: unknown) => typeof s !== 'string' || s.trim() === '' || /[<>\u0000-\u001f\u007f]/.test(s);
  if (!author || bad(author.name) || bad(author.email)) throw new GitError('other', 'commit author needs a name and an email without <, > or control characters');
}

// ---------------------------------------------------------------------------------------------
// Running git: argv arrays, no shell, a timeout, no prompts, credentials only in the environment.

interface RunOptions {
  what: string;
  gitDir?: string;
  cwd?: string;
  env?: Record<string, string>;
  input?: Buffer;
}

interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

interface GitSession {
  url: string;
  run(args: string[], opts: RunOptions): Promise<RunResult>;
  git(args: string[], opts: RunOptions): Promise<Buffer>;
  gitText(args: string[], opts: RunOptions): Promise<string>;
  failure(what: string, result: RunResult): GitError;
  cleanup(): void;
}

async function withSession<T>(session: GitSession, fn: (session: GitSession) => Promise<T>): Promise<T> {
  try {
    return await fn(session);
  } finally {
    session.cleanup();
  }
}

/** Everything one operation needs to run git against one URL with one set of credentials. */
function openSession(url: string, credentials: Credentials | undefined, timeoutMs: number): GitSession {
  const local = isLocalRepoUrl(url);
  const isHttps = url.toLowerCase().startsWith('https://');
  const isSsh = !local && !isHttps && !url.toLowerCase().startsWith('git://');
  const secrets: string[] = [];
  const config: Array<[string, string]> = [['core.hooksPath', '/dev/null']];
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    // Only the transports this URL needs: an https remote cannot redirect git to file:// or ext::.
    GIT_ALLOW_PROTOCOL: local ? 'file' : 'https:ssh:git',
    LC_ALL: 'C', // error texts are matched below
  };
  let tempDir: string | null = null;

  if (credentials?.kind === 'token') {
    if (!isHttps) throw new GitError('auth', 'token credentials work only with https:// repository URLs');
    const username = credentials.username ?? 'x-access-token';
    const basic = Buffer.from(`${username}:${credentials.token}`).toString('base64');
    secrets.push(credentials.token, basic, `${username}:${credentials.token}`);
    // Through GIT_CONFIG_* rather than -c, so the header is not in argv for other users' ps to see.
    config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
  } else if (credentials?.kind === 'ssh') {
    if (!isSsh) throw new GitError('auth', 'ssh credentials work only with ssh:// or git@host:path repository URLs');
    tempDir = mkdtempSync(join(tmpdir(), 'arcentra-ssh-'));
    const keyFile = join(tempDir, 'key');
    const key = credentials.privateKey.endsWith('\n') ? credentials.privateKey : `${credentials.privateKey}\n`;
    writeFileSync(keyFile, key, { mode: 0o600 });
    env.GIT_SSH_COMMAND = `ssh -i ${shellQuote(keyFile)} -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o BatchMode=yes`;
  } else if (isSsh && !process.env.GIT_SSH_COMMAND) {
    env.GIT_SSH_COMMAND = 'ssh -o BatchMode=yes'; // never wait for a password or passphrase
  }

  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });

  const redact = (text: string) => {
    let out = text;
    for (const s of secrets) if (s) out = out.split(s).join('***');
    return out.replace(/(authorization:\s*)[^\r\n]*/gi, '$1***').replace(/(\/\/)[^/@\s]*:[^/@\s]*@/g, '$1***@');
  };

  const failure = (what: string, result: RunResult): GitError => {
    if (result.timedOut) return new GitError('unreachable', `${what} timed out after ${timeoutMs} ms`);
    const stderr = redact(result.stderr)
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line && !BOILERPLATE.test(line))
      .join('; ')
      .slice(0, MAX_STDERR_IN_MESSAGE);
    return new GitError(classify(result.stderr), `${what} failed${stderr ? `: ${stderr}` : ` with exit code ${result.code}`}`);
  };

  const run = (args: string[], opts: RunOptions): Promise<RunResult> => {
    // Not secret, and git documents it as a -c switch: local transports are opted into per call.
    const argv = [...(local ? ['-c', 'protocol.file.allow=always'] : []), ...(opts.gitDir ? [`--git-dir=${opts.gitDir}`] : []), ...args];
    return spawnGit(argv, { cwd: opts.cwd ?? opts.gitDir ?? tmpdir(), env: { ...baseEnv(), ...env, ...opts.env }, input: opts.input, timeoutMs });
  };

  const git = async (args: string[], opts: RunOptions) => {
    const result = await run(args, opts);
    if (result.code !== 0) throw failure(opts.what, result);
    return result.stdout;
  };

  return {
    url,
    run,
    git,
    gitText: async (args, opts) => (await git(args, opts)).toString('utf8'),
    failure,
    cleanup() {
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      tempDir = null;
    },
  };
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !STRIPPED_ENV.test(name)) env[name] = value;
  }
  return env;
}

function classify(stderr: string): GitErrorKind {
  if (/couldn't find remote ref/i.test(stderr)) return 'branch_not_found';
  if (/authentication failed|could not read (username|password)|terminal prompts disabled|permission denied \(|returned error: 40[13]|HTTP 40[13]|invalid username or password|access denied|host key verification failed|invalid credentials/i.test(stderr)) return 'auth';
  if (/could not resolve|connection refused|connection timed out|timed out|network is unreachable|no route to host|unable to access|does not appear to be a git repository|repository .*not found|could not read from remote repository|not a git repository|connection reset|SSL/i.test(stderr)) return 'unreachable';
  return 'other';
}

function shellQuote(s: string) {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function spawnGit(argv: string[], opts: { cwd: string; env: Record<string, string>; input?: Buffer; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    // Its own process group, so a timeout also ends the helpers git started (ssh, remote-https).
    const child = spawn('git', argv, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let overflow = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is already gone; make sure the child is too
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        overflow = true;
        killGroup();
      } else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.reduce((n, b) => n + b.length, 0) < 64 * 1024) stderr.push(chunk);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new GitError('other', `cannot run git: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const err = Buffer.concat(stderr).toString('utf8');
      resolvePromise({ code: overflow ? null : code, stdout: Buffer.concat(stdout), stderr: overflow ? `output larger than ${MAX_OUTPUT_BYTES} bytes\n${err}` : err, timedOut });
    });
    // A git that exits before reading all of stdin (e.g. on a bad argument) must not crash us.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? undefined);
  });
}
