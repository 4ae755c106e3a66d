// The artifact plugins' scripts, run for real: a round trip, and archives that try to escape.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PLUGIN_DIR } from '../../src/plugins/catalogue';
import { tempDir } from '../support/databases';

function runPlugin(script: string, env: Record<string, string>) {
  return spawnSync(join(BUILTIN_PLUGIN_DIR, script), [], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8', cwd: env.ARCENTRA_WORKSPACE });
}

describe('artifact plugins', () => {
  it('round-trips a folder between two workspaces', () => {
    const root = tempDir('artifacts');
    const [a, b, store] = ['a', 'b', 'store'].map((d) => join(root, d));
    mkdirSync(join(a, 'dist'), { recursive: true });
    mkdirSync(b);
    writeFileSync(join(a, 'dist', 'x.txt'), 'x');
    expect(runPlugin('artifact-upload/upload.sh', { ARCENTRA_WORKSPACE: a, ARCENTRA_ARTIFACT_DIR: store, ARC_ARG_NAME: 'dist', ARC_ARG_PATH: 'dist' }).status).toBe(0);
    const down = runPlugin('artifact-download/download.sh', { ARCENTRA_WORKSPACE: b, ARCENTRA_ARTIFACT_DIR: store, ARC_ARG_NAME: 'dist' });
    expect(down.status, down.stderr).toBe(0);
    expect(readFileSync(join(b, 'dist', 'x.txt'), 'utf8')).toBe('x');
  });

  it('refuses to upload from outside the workspace', () => {
    const root = tempDir('artifacts');
    mkdirSync(join(root, 'ws'));
    const r = runPlugin('artifact-upload/upload.sh', { ARCENTRA_WORKSPACE: join(root, 'ws'), ARCENTRA_ARTIFACT_DIR: join(root, 's'), ARC_ARG_NAME: 'etc', ARC_ARG_PATH: '../../../../etc' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/outside the workspace/);
  });

  it('refuses archives whose members would land outside (zip-slip) or that carry links', () => {
    const root = tempDir('slip');
    const store = join(root, 'store');
    const ws = join(root, 'ws');
    const craft = join(root, 'craft', 'deep');
    mkdirSync(store, { recursive: true });
    mkdirSync(ws);
    mkdirSync(craft, { recursive: true });
    writeFileSync(join(root, 'craft', 'evil.txt'), 'evil');
    // A member named ../evil.txt, relative to craft/deep.
    execFileSync('tar', ['-P', '-C', craft, '-czf', join(store, 'slip.tar.gz'), '../evil.txt']); // -P keeps the ../ a hostile archive would have
    const slip = runPlugin('artifact-download/download.sh', { ARCENTRA_WORKSPACE: ws, ARCENTRA_ARTIFACT_DIR: store, ARC_ARG_NAME: 'slip' });
    expect(slip.status).toBe(2);
    expect(slip.stderr).toMatch(/refusing member/);
    expect(existsSync(join(root, 'evil.txt'))).toBe(false);

    symlinkSync('/etc', join(craft, 'link'));
    execFileSync('tar', ['-C', craft, '-czf', join(store, 'link.tar.gz'), 'link']);
    const link = runPlugin('artifact-download/download.sh', { ARCENTRA_WORKSPACE: ws, ARCENTRA_ARTIFACT_DIR: store, ARC_ARG_NAME: 'link' });
    expect(link.status).toBe(2);
    expect(link.stderr).toMatch(/refusing link member/);
  });
});
