// Every YAML file in test/fixtures/spec compiles to the issues in the golden JSON beside it.
// Regenerate goldens deliberately with UPDATE_SPEC_GOLDEN=1 and review the diff.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { compilePipeline, countJobsAndStages } from '../../src/spec/index';

const dir = join(import.meta.dirname, '../fixtures/spec');
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

describe('spec fixtures', () => {
  it('has fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(5);
  });

  for (const file of fixtures) {
    it(file, () => {
      const result = compilePipeline(readFileSync(join(dir, file), 'utf8'), { format: 'yaml' });
      const actual = { valid: result.valid, ...countJobsAndStages(result), errors: result.errors, warnings: result.warnings };
      const goldenPath = join(dir, file.replace(/\.yaml$/, '.expected.json'));
      if (process.env.UPDATE_SPEC_GOLDEN) writeFileSync(goldenPath, `${JSON.stringify(actual, null, 2)}\n`);
      expect(existsSync(goldenPath), `missing ${goldenPath}; run with UPDATE_SPEC_GOLDEN=1 and review it`).toBe(true);
      expect(actual).toEqual(JSON.parse(readFileSync(goldenPath, 'utf8')));
    });
  }
});
