// Which repository URLs and pipeline file paths the git layer accepts. Both reach the git CLI as
// arguments, so anything git could read as an option, a transport helper or a path outside the
// repository is refused here, before any process is started.
import { posix } from 'node:path';

export type UrlCheck = { ok: true; url: string } | { ok: false; message: string };
export type PathCheck = { ok: true; path: string } | { ok: false; message: string };

const MAX_URL_LENGTH = 2000;
const MAX_PATH_LENGTH = 500;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const WHITESPACE = /\s/;
const PIPELINE_EXTENSIONS = ['.yaml', '.yml', '.json'];

// user@host:path, as git reads it: no "://", and no slash before the first colon.
const SCP_LIKE = /^(?:([A-Za-z0-9._~-]+)@)?([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):(.+)$/;
// Hosts that are really scheme names: "https:x" or "file:/x" mistyped, not scp-like addresses.
const SCHEME_LIKE_HOSTS = new Set(['http', 'https', 'file', 'ssh', 'git', 'ext', 'fd', 'ftp', 'ftps']);

/** True for file:// URLs and absolute local paths: repositories read from this machine's disk. */
export function isLocalRepoUrl(url: string): boolean {
  return url.startsWith('/') || url.toLowerCase().startsWith('file://');
}

/**
 * Accepts https://, ssh://, git:// and scp-like (git@host:owner/repo.git) URLs, and file:// URLs
 * or absolute paths only when allowFileRepos is set. Credentials never belong in the URL.
 */
export function checkRepoUrl(url: string, opts: { allowFileRepos: boolean }): UrlCheck {
  const refuse = (message: string): UrlCheck => ({ ok: false, message });
  if (typeof url !== 'string' || url.length === 0) return refuse('repository URL is empty');
  if (url.length > MAX_URL_LENGTH) return refuse(`repository URL is longer than ${MAX_URL_LENGTH} characters`);
  if (CONTROL_CHARS.test(url)) return refuse('repository URL contains control characters');
  if (WHITESPACE.test(url)) return refuse('repository URL contains whitespace');
  // git would take these as command-line options (e.g. -u<command> runs a program).
  if (url.startsWith('-')) return refuse('repository URL must not start with "-"');
  // <transport>::<address> makes git run a remote helper, e.g. ext::sh -c ... runs a command.
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) return refuse('transport helper URLs (<transport>::<address>) are not allowed');

  if (isLocalRepoUrl(url)) {
    if (!opts.allowFileRepos) return refuse('local repositories (file:// URLs and paths) are disabled on this server');
    if (url.startsWith('/')) return { ok: true, url };
    return checkFileUrl(url);
  }

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'http') return refuse('plain http:// is not allowed; use https://');
  if (scheme === 'https' || scheme === 'ssh' || scheme === 'git') return checkNetworkUrl(url, scheme);
  if (scheme) return refuse(`unsupported URL scheme "${scheme}://"; use https://, ssh:// or git@host:owner/repo.git`);

  const scp = SCP_LIKE.exec(url);
  if (scp && !SCHEME_LIKE_HOSTS.has(scp[2].toLowerCase())) {
    const path = scp[3];
    if (path.startsWith('-')) return refuse('repository path must not start with "-"');
    if (path.startsWith('//')) return refuse('malformed scp-like URL');
    return { ok: true, url };
  }
  if (url.startsWith('.') || !url.includes(':')) return refuse('relative paths are not repository URLs; use https://, ssh:// or git@host:owner/repo.git');
  return refuse('unrecognised repository URL; use https://, ssh:// or git@host:owner/repo.git');
}

function checkNetworkUrl(url: string, scheme: 'https' | 'ssh' | 'git'): UrlCheck {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, message: 'repository URL is not a valid URL' };
  }
  if (!parsed.hostname) return { ok: false, message: 'repository URL has no host' };
  if (parsed.hostname.startsWith('-')) return { ok: false, message: 'repository host must not start with "-"' };
  if (parsed.password) return { ok: false, message: 'repository URL must not carry a password; store credentials separately' };
  // An ssh user name (git@) is part of the address; an https user name would be half a credential.
  if (parsed.username && scheme !== 'ssh') return { ok: false, message: `${scheme}:// repository URL must not carry a user name; store credentials separately` };
  if (parsed.search || parsed.hash) return { ok: false, message: 'repository URL must not have a query or fragment' };
  if (parsed.pathname === '/' || parsed.pathname === '') return { ok: false, message: 'repository URL has no repository path' };
  return { ok: true, url };
}

function checkFileUrl(url: string): UrlCheck {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, message: 'file:// repository URL is not a valid URL' };
  }
  if (parsed.hostname && parsed.hostname !== 'localhost') return { ok: false, message: 'file:// repository URL must not name a host' };
  if (parsed.search || parsed.hash) return { ok: false, message: 'repository URL must not have a query or fragment' };
  if (parsed.pathname === '/' || parsed.pathname === '') return { ok: false, message: 'file:// repository URL has no path' };
  return { ok: true, url };
}

/**
 * Accepts a relative POSIX path to a pipeline file inside the repository and returns it
 * normalised (a/./b.yaml becomes a/b.yaml). Refuses anything that could leave the tree or
 * touch git's own files.
 */
export function checkPipelineFilePath(path: string): PathCheck {
  const refuse = (message: string): PathCheck => ({ ok: false, message });
  if (typeof path !== 'string' || path.length === 0) return refuse('pipeline file path is empty');
  if (path.length > MAX_PATH_LENGTH) return refuse(`pipeline file path is longer than ${MAX_PATH_LENGTH} characters`);
  if (CONTROL_CHARS.test(path)) return refuse('pipeline file path contains control characters');
  if (path.includes('\\')) return refuse('pipeline file path must use "/" separators, not "\\"');
  if (path.startsWith('/')) return refuse('pipeline file path must be relative to the repository root');
  const normalized = posix.normalize(path);
  const segments = normalized.split('/');
  if (segments.includes('..')) return refuse('pipeline file path must stay inside the repository (no ".." segments)');
  // Case-insensitively, as git itself does, since .GIT is .git on some file systems.
  if (segments.some((s) => s.toLowerCase() === '.git')) return refuse('pipeline file path must not be inside .git/');
  if (segments.some((s) => s === '' || s === '.')) return refuse('pipeline file path must name a file');
  if (normalized.startsWith('-')) return refuse('pipeline file path must not start with "-"');
  const lower = normalized.toLowerCase();
  if (!PIPELINE_EXTENSIONS.some((ext) => lower.endsWith(ext) && lower.length > ext.length && !lower.endsWith(`/${ext}`))) {
    return refuse('pipeline file path must end in .yaml, .yml or .json');
  }
  return { ok: true, path: normalized };
}
