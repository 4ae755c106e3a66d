// Which repository URLs and pipeline file paths reach git, and which are refused before it runs.
import { describe, expect, it } from 'vitest';
import { checkPipelineFilePath, checkRepoUrl } from '../../src/git/repo-url';

const accepted: Array<[string, boolean]> = [
  ['https://github.com/acme/pipelines.git', false],
  ['https://gitlab.example.com:8443/group/sub/repo', false],
  ['ssh://git@github.com/acme/pipelines.git', false],
  ['ssh://git@host.example:2222/acme/repo.git', false],
  ['git://git.example.com/acme/repo.git', false],
  ['git@github.com:acme/pipelines.git', false],
  ['github.com:acme/pipelines.git', false],
  ['file:///tmp/x', true],
  ['/srv/git/repo.git', true],
];

const refused: Array<[string, boolean, RegExp]> = [
  ['file:///tmp/x', false, /local repositories/],
  ['/srv/git/repo.git', false, /local repositories/],
  ['http://github.com/acme/repo.git', false, /http:\/\/ is not allowed/],
  ['http://', false, /http:\/\/ is not allowed/],
  ['ext::sh -c touch% /tmp/pwned', true, /whitespace|transport helper/],
  ['ext::sh', true, /transport helper/],
  ['fd::17', true, /transport helper/],
  ['-uhttps://x', true, /must not start with "-"/],
  ['--upload-pack=touch /tmp/x', true, /whitespace|must not start/],
  ['https://github.com/acme/repo.git\n', false, /control characters/],
  ['https://github.com/a b', false, /whitespace/],
  ['https://user:secret@github.com/acme/repo.git', false, /password/],
  ['https://user@github.com/acme/repo.git', false, /user name/],
  ['https://github.com/', false, /no repository path/],
  ['ftp://example.com/repo.git', false, /unsupported URL scheme/],
  ['ssh://-oProxyCommand=x/repo', false, /not a valid URL|must not start/],
  ['git@host:-oProxyCommand=x', false, /must not start with "-"/],
  ['../relative/repo', true, /relative paths/],
  ['repo.git', true, /relative paths/],
  ['', false, /empty/],
  [`https://github.com/${'a'.repeat(2000)}`, false, /longer than 2000/],
];

describe('checkRepoUrl', () => {
  it.each(accepted)('accepts %s (allowFileRepos=%s)', (url, allowFileRepos) => {
    expect(checkRepoUrl(url, { allowFileRepos })).toEqual({ ok: true, url });
  });

  it.each(refused)('refuses %j (allowFileRepos=%s)', (url, allowFileRepos, message) => {
    const result = checkRepoUrl(url, { allowFileRepos });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('checkPipelineFilePath', () => {
  it.each([
    ['.arcentra/pipeline.yaml', '.arcentra/pipeline.yaml'],
    ['pipelines/build.yml', 'pipelines/build.yml'],
    ['ci.json', 'ci.json'],
    ['./a/./b.yaml', 'a/b.yaml'],
    ['a/../b.yaml', 'b.yaml'],
    ['dir with space/p.yaml', 'dir with space/p.yaml'],
  ])('accepts %j as %j', (path, normalized) => {
    expect(checkPipelineFilePath(path)).toEqual({ ok: true, path: normalized });
  });

  it.each([
    ['../../x', /inside the repository/],
    ['a/../../x.yaml', /inside the repository/],
    ['../x.yaml', /inside the repository/],
    ['/etc/passwd', /relative/],
    ['/etc/p.yaml', /relative/],
    ['.git/config', /\.git/],
    ['.git/hooks/x.yaml', /\.git/],
    ['sub/.GIT/x.yaml', /\.git/],
    ['a\\b.yaml', /separators/],
    ['a\u0000.yaml', /control/],
    ['a\n.yaml', /control/],
    ['pipeline.txt', /\.yaml, \.yml or \.json/],
    ['dir/', /name a file/],
    ['.yaml', /\.yaml, \.yml or \.json/],
    ['', /empty/],
    [`${'a/'.repeat(250)}x.yaml`, /longer than 500/],
  ])('refuses %j', (path, message) => {
    const result = checkPipelineFilePath(path);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});
