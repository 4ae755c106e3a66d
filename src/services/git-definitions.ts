// Definitions of git-backed pipelines: the file `pipelineFilePath` on `defaultBranch`, read through
// a cached bare clone, and saved by a commit pushed to that branch (direct) or to a new branch with a
// pull request (pr). Repository credentials are kept sealed and opened only for a git call.
import { stringify } from 'yaml';
import type { SecretBox, Credentials } from '../git/credentials';
import { openCredentials } from '../git/credentials';
import type { RepoCache } from '../git/repo-cache';
import { GitError } from '../git/repo-cache';
import { isLocalRepoUrl } from '../git/repo-url';
import { ProviderError, providerFor } from '../git/providers';
import type { ProviderKind } from '../git/providers';
import { Conflict, InvalidInput, NotFound } from '../errors';
import { idFor, newId } from '../ids';
import type { PipelineRow, SaveSpecInput, SaveSpecResult } from './pipelines';

export interface GitDefinitionsDeps {
  cache: RepoCache;
  box: SecretBox;
}

export interface GitDefinition {
  /** The file's text: YAML or JSON, compiled with line and column positions. */
  spec: string;
  format: 'yaml' | 'json';
  commitSha: string;
  branch: string | null;
  pipelineFilePath: string;
}

const formatOf = (path: string): 'yaml' | 'json' => (path.endsWith('.json') ? 'json' : 'yaml');

/** A provider configured in the pipeline's metadata (`gitProvider: {kind, apiBaseUrl, repository}`), for self-hosted or local setups. */
function providerConfig(row: PipelineRow): { kind?: ProviderKind; apiBaseUrl?: string; repository?: string } {
  const g = (row.metadata as { gitProvider?: unknown }).gitProvider;
  if (!g || typeof g !== 'object') return {};
  const { kind, apiBaseUrl, repository } = g as Record<string, unknown>;
  return {
    kind: kind === 'github' || kind === 'gitlab' || kind === 'gitea' ? kind : undefined,
    apiBaseUrl: typeof apiBaseUrl === 'string' ? apiBaseUrl : undefined,
    repository: typeof repository === 'string' ? repository : undefined,
  };
}

/** A git failure as the API user should see it: their repository settings, not our fault. */
function asApiError(err: unknown, row: PipelineRow): never {
  if (err instanceof ProviderError) throw new InvalidInput(`the pull request could not be opened: ${err.message}`, [{ path: 'repoUrl', message: err.message }]);
  if (!(err instanceof GitError)) throw err;
  switch (err.kind) {
    case 'conflict':
      throw new Conflict(`the definition has moved on: ${row.defaultBranch} is at ${err.currentHeadSha ?? '(none)'}; reload it and save again`, { currentHeadCommitSha: err.currentHeadSha ?? null });
    case 'branch_not_found':
      throw new InvalidInput(`repoUrl: ${err.message}`, [{ path: 'defaultBranch', message: err.message }]);
    case 'auth':
      throw new InvalidInput(`repoUrl: the repository refused access (${err.message}); check the pipeline's credentials`, [{ path: 'credentials', message: err.message }]);
    case 'unreachable':
      throw new InvalidInput(`repoUrl: the repository cannot be reached (${err.message})`, [{ path: 'repoUrl', message: err.message }]);
    default:
      throw new InvalidInput(`repoUrl: git failed: ${err.message}`, [{ path: 'repoUrl', message: err.message }]);
  }
}

export function createGitDefinitions(deps: GitDefinitionsDeps) {
  const credentialsOf = (row: PipelineRow): Credentials | undefined => (row.credentialsSealed ? openCredentials(deps.box, row.credentialsSealed) : undefined);
  /** What git gets: a token only over https, a key only over ssh; a local repository needs neither. */
  const gitCredentialsOf = (row: PipelineRow): Credentials | undefined => {
    const c = credentialsOf(row);
    if (!c || isLocalRepoUrl(row.repoUrl!)) return undefined;
    const https = /^https:\/\//i.test(row.repoUrl!);
    return (c.kind === 'token') === https ? c : undefined;
  };

  return {
    /** The definition at a branch (default: the pipeline's defaultBranch) or at an exact commit. */
    async read(row: PipelineRow, at: { ref?: string; commitSha?: string } = {}): Promise<GitDefinition> {
      const repoUrl = row.repoUrl!;
      const branch = at.commitSha ? null : (at.ref?.replace(/^refs\/heads\//, '') ?? row.defaultBranch);
      try {
        const found = at.commitSha
          ? await deps.cache.readFileAt({ repoUrl, commitSha: at.commitSha, path: row.pipelineFilePath, credentials: gitCredentialsOf(row) })
          : await deps.cache.readFile({ repoUrl, branch: branch!, path: row.pipelineFilePath, credentials: gitCredentialsOf(row) });
        if ('missing' in found) throw new NotFound(`${row.pipelineFilePath} does not exist at ${branch ?? at.commitSha} (${found.commitSha})`);
        return { spec: found.content, format: formatOf(row.pipelineFilePath), commitSha: found.commitSha, branch, pipelineFilePath: row.pipelineFilePath };
      } catch (err) {
        return asApiError(err, row);
      }
    },

    /**
     * Commits the new definition: to defaultBranch (direct), or to a new branch with a pull request
     * against prTargetBranch ?? defaultBranch (pr). Nothing is pushed unless the branch is still at
     * `expectedHeadCommitSha`.
     */
    async save(row: PipelineRow, input: SaveSpecInput, editor: string): Promise<SaveSpecResult> {
      const format = input.format === 'json' ? 'json' : 'yaml';
      const content = typeof input.spec === 'string' ? input.spec : format === 'json' ? JSON.stringify(input.spec, null, 2) + '\n' : stringify(input.spec);
      const message = input.commitMessage?.trim() || `Update ${row.pipelineFilePath}`;
      const author = { name: editor, email: `${editor.replace(/[^A-Za-z0-9._-]/g, '_') || 'arcentra'}@users.noreply.arcentra` };
      const credentials = gitCredentialsOf(row);
      const repoUrl = row.repoUrl!;
      try {
        const expectedHeadSha = input.expectedHeadCommitSha ?? (await deps.cache.headOf({ repoUrl, branch: row.prTargetBranch ?? row.defaultBranch, credentials })) ?? undefined;
        if (row.saveMode !== 'pr') {
          const pushed = await deps.cache.commitFile({ repoUrl, branch: row.defaultBranch, path: row.pipelineFilePath, content, message, author, expectedHeadSha, credentials });
          return { commitSha: pushed.commitSha, branch: pushed.branch, saveMode: 'direct', prUrl: null, prBranch: null };
        }
        const target = row.prTargetBranch ?? row.defaultBranch;
        const slug = row.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'pipeline';
        const prBranch = `arcentra/${slug}-${(input.requestId ? idFor('pr', `${row.pipelineId}\u0000${input.requestId}`) : newId('pr')).slice(3, 15)}`;
        const pushed = await deps.cache.commitFile({ repoUrl, branch: prBranch, baseBranch: target, path: row.pipelineFilePath, content, message, author, expectedHeadSha, credentials });
        const provider = providerFor(repoUrl, providerConfig(row));
        let prUrl: string | null = null;
        if (provider) {
          const [title, ...rest] = message.split('\n');
          prUrl = (await provider.open({ repoUrl, sourceBranch: prBranch, targetBranch: target, title, body: rest.join('\n').trim() || `Pipeline definition change by ${editor} through Arcentra.`, credentials: credentialsOf(row) })).url;
        }
        return { commitSha: pushed.commitSha, branch: target, saveMode: 'pr', prUrl, prBranch };
      } catch (err) {
        return asApiError(err, row);
      }
    },
  };
}

export type GitDefinitions = ReturnType<typeof createGitDefinitions>;
