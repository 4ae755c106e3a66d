// The workflow bundle is built in a child process once per version of the sources, then reused.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cachedWorkflowBundle } from '../../src/worker/workflow-bundle';
import { tempDir } from '../support/databases';

describe('cached workflow bundle', () => {
  it('builds once into the cache, reuses it, and drops bundles of older sources', async () => {
    const dir = tempDir('bundle-cache');
    const stale = join(dir, 'workflow-bundle-0123456789abcdef.js');
    writeFileSync(stale, '// an older version');
    const first = await cachedWorkflowBundle(dir);
    expect(first.codePath.startsWith(dir)).toBe(true);
    expect(readFileSync(first.codePath, 'utf8')).toContain('JobRunWorkflow');
    expect(existsSync(stale)).toBe(false);
    const built = statSync(first.codePath).mtimeMs;
    const again = await cachedWorkflowBundle(dir);
    expect(again.codePath).toBe(first.codePath);
    expect(statSync(again.codePath).mtimeMs).toBe(built);
  }, 120_000);
});
