// Every kind of spec error: exact path, an actionable message, and line/column for text input.
import { describe, it, expect } from 'vitest';
import { compilePipeline } from '../../src/spec/index';
import { invalid, issueAt, job, specWithJobs } from './spec-helpers';

/** A job list in YAML text, indented under `jobs:`; line 1 of `body` is line 4 of the spec. */
const yamlJobs = (body: string) => `namespace: demo.pipeline\nversion: v1\njobs:\n${body}`;

describe('syntax errors', () => {
  it('reports YAML syntax errors with line and column', () => {
    const errors = invalid('namespace: demo\nversion: v1\njobs:\n  - name: a\n   steps: [\n');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ path: '', line: expect.any(Number), column: expect.any(Number) });
    expect(errors[0].message).toMatch(/^YAML syntax error: /);
  });

  it('reports a duplicate YAML key where it is written', () => {
    const [error] = invalid('namespace: a\nversion: v1\nnamespace: b\njobs: []\n');
    expect(error).toMatchObject({ path: '', line: 3, column: 1 });
    expect(error.message).toBe('YAML syntax error: this key appears twice in the same mapping; each key may be given only once');
  });

  it('rejects several YAML documents in one spec', () => {
    expect(invalid('namespace: a\n---\nnamespace: b\n')[0]).toMatchObject({ path: '', line: 2, message: expect.stringMatching(/single YAML document/) });
  });

  it('reports JSON syntax errors with line and column', () => {
    const [error] = invalid('{\n  "namespace": "x",\n  "version": "v1"\n  "jobs": []\n}', 'json');
    expect(error).toMatchObject({ path: '', line: 4, column: 3 });
    expect(error.message).toMatch(/^JSON syntax error: /);
  });

  it('rejects YAML text given as JSON', () => {
    expect(invalid('namespace: x\n', 'json')[0].message).toMatch(/^JSON syntax error/);
  });

  it('rejects an empty spec and a spec that is not a mapping', () => {
    expect(invalid('')[0].message).toMatch(/empty/);
    expect(invalid('# only a comment\n')[0].message).toMatch(/empty/);
    expect(issueAt(invalid('- a\n- b\n'), '')).toMatchObject({ message: 'the spec must be a mapping of pipeline fields, got a list', line: 1, column: 1 });
    expect(issueAt(invalid(42), '').message).toBe('the spec must be a mapping of pipeline fields, got 42');
    expect(issueAt(invalid(null), '').message).toMatch(/mapping/);
    expect(issueAt(invalid(['x']), '').message).toMatch(/got a list/);
  });
});

describe('pipeline fields', () => {
  it('requires namespace, version and stages or jobs', () => {
    const errors = invalid('target: prod\n');
    expect(issueAt(errors, 'namespace').message).toBe("missing required field 'namespace'");
    expect(issueAt(errors, 'version').message).toBe("missing required field 'version'");
    expect(issueAt(errors, '').message).toMatch(/needs 'stages'.*or 'jobs'/);
  });

  it('rejects a version that is neither v1 nor semver', () => {
    expect(issueAt(invalid(specWithJobs([job('a')], { version: 'v2' })), 'version').message).toMatch(/must be v1 or a semantic version/);
    expect(issueAt(invalid(specWithJobs([job('a')], { version: 1 })), 'version').message).toMatch(/quote it/);
  });

  it('rejects both stages and jobs', () => {
    const errors = invalid(specWithJobs([job('a')], { stages: [{ name: 's', jobs: [job('b')] }] }));
    expect(issueAt(errors, 'jobs').message).toMatch(/either 'stages' or 'jobs'/);
  });

  it('names an unknown top-level field', () => {
    const errors = invalid('namespace: a\nversion: v1\nnamespce: b\njobs: [{name: a, steps: [{name: s, run: x}]}]\n');
    expect(issueAt(errors, 'namespce')).toEqual({ path: 'namespce', message: "unknown field 'namespce' in pipeline; did you mean 'namespace'?", line: 3, column: 1 });
  });

  it('rejects an empty jobs list and an empty stage', () => {
    expect(issueAt(invalid(specWithJobs([])), 'jobs').message).toMatch(/at least one job/);
    const errors = invalid({ namespace: 'a', version: 'v1', stages: [{ name: 's', jobs: [] }] });
    expect(issueAt(errors, 'stages[0].jobs').message).toMatch(/at least one job/);
  });

  it('rejects bad triggers with their path', () => {
    const errors = invalid(
      specWithJobs([job('a')], {
        triggers: [
          { type: 'webhook' },
          { type: 'cron', options: { expression: 'every day', timezone: 'Mars/Olympus' } },
          { type: 'event', options: { events: ['push', 'merge'] } },
          { type: 'cron' },
          { type: 'manual', extra: 1 },
        ],
      }),
    );
    expect(issueAt(errors, 'triggers[0].type').message).toBe(`'type' must be manual, cron or event, got "webhook"`);
    expect(issueAt(errors, 'triggers[1].options.expression').message).toMatch(/cron expression/);
    expect(issueAt(errors, 'triggers[1].options.timezone').message).toMatch(/IANA time zone/);
    expect(issueAt(errors, 'triggers[2].options.events[1]').message).toBe(`'events[1]' must be push, tag or pull_request, got "merge"`);
    expect(issueAt(errors, 'triggers[3].options').message).toBe("missing required field 'options'");
    expect(issueAt(errors, 'triggers[4].extra').message).toMatch(/unknown field 'extra' in trigger/);
  });
});

describe('job and step fields', () => {
  it('points a typo in a step key at its line (line 9)', () => {
    const text = yamlJobs(`  - name: build
    steps:
      - name: checkout
        uses: actions/git-checkout@v1
      - name: compile
        arsg: {go_version: "1.25"}
        uses: actions/go-build@v1
`);
    expect(text.split('\n')[8]).toBe('        arsg: {go_version: "1.25"}');
    expect(invalid(text)).toEqual([
      { path: 'jobs[0].steps[1].arsg', message: "unknown field 'arsg' in step; did you mean 'args'?", line: 9, column: 9 },
    ]);
  });

  it('reports every unknown key, not only the first', () => {
    const errors = invalid(specWithJobs([{ name: 'a', stpes: [], foo: 1, steps: [{ name: 's', run: 'x', shell: 'bash' }] }]));
    expect(errors.map((e) => e.path).sort()).toEqual(['jobs[0].foo', 'jobs[0].steps[0].shell', 'jobs[0].stpes']);
    expect(issueAt(errors, 'jobs[0].stpes').message).toBe("unknown field 'stpes' in job; did you mean 'steps'?");
    expect(issueAt(errors, 'jobs[0].foo').message).toMatch(/^unknown field 'foo' in job; known fields: name, steps, needs/);
  });

  it('rejects a field given in two spellings', () => {
    const errors = invalid(specWithJobs([job('a', { continueOnError: true, continue_on_error: false })]));
    expect(issueAt(errors, 'jobs[0].continue_on_error').message).toMatch(/repeats a field.*'continueOnError', 'continue_on_error'/);
    const needsTwice = invalid(specWithJobs([job('a'), job('b', { needs: ['a'], depends_on: ['a'] })]));
    expect(issueAt(needsTwice, 'jobs[1].depends_on').message).toMatch(/keep only one/);
  });

  it('requires job and step names and at least one step', () => {
    const errors = invalid(yamlJobs('  - steps: []\n  - name: b\n    steps:\n      - run: echo\n'));
    expect(issueAt(errors, 'jobs[0].name')).toMatchObject({ message: "missing required field 'name'", line: 4, column: 5 });
    expect(issueAt(errors, 'jobs[0].steps')).toMatchObject({ message: 'a job needs at least one step', line: 4, column: 5 });
    expect(issueAt(errors, 'jobs[1].steps[0].name')).toMatchObject({ message: "missing required field 'name'", line: 7, column: 9 });
  });

  it('uses the spelling the user wrote in paths and messages', () => {
    const errors = invalid(yamlJobs('  - name: a\n    continue_on_error: maybe\n    steps: [{name: s, run: x}]\n'));
    expect(errors).toEqual([{ path: 'jobs[0].continue_on_error', message: `'continue_on_error' must be true or false, got "maybe"`, line: 5, column: 5 }]);
  });

  it('rejects a step with both run and uses, with neither, and args on a run step', () => {
    const errors = invalid(
      yamlJobs(`  - name: a
    steps:
      - name: both
        run: make
        uses: actions/go-build@v1
      - name: neither
      - name: args
        run: make
        args: {x: 1}
      - name: empty
        run: "  "
`),
    );
    expect(issueAt(errors, 'jobs[0].steps[0].uses')).toMatchObject({ message: "a step takes either 'run' (a shell script) or 'uses' (a plugin), not both", line: 8, column: 9 });
    expect(issueAt(errors, 'jobs[0].steps[1]')).toMatchObject({ message: expect.stringMatching(/needs 'run'.*or 'uses'/), line: 9, column: 9 });
    expect(issueAt(errors, 'jobs[0].steps[2].run')).toMatchObject({ message: expect.stringMatching(/'action' and 'args' only apply/), line: 11, column: 9 });
    expect(issueAt(errors, 'jobs[0].steps[3].run')).toMatchObject({ message: "'run' must not be empty: write the script to run", line: 14, column: 9 });
  });

  it('rejects a malformed plugin reference', () => {
    for (const uses of ['go-build', 'actions/go-build', 'actions/go-build@latest', 'actions/go-build@1.2', '/x@v1', 'a/b/c@v1', 'actions/go build@v1']) {
      const errors = invalid(specWithJobs([job('a', { steps: [{ name: 's', uses }] })]));
      expect(issueAt(errors, 'jobs[0].steps[0].uses').message).toMatch(/must name a plugin as <owner>\/<name>@<version>/);
    }
    const notify = invalid(specWithJobs([job('a')], { notify: { on_failure: [{ uses: 'slack' }] } }));
    expect(issueAt(notify, 'notify.on_failure[0].uses').message).toMatch(/must name a plugin/);
  });

  it('rejects bad durations with the field path', () => {
    const errors = invalid(
      yamlJobs(`  - name: a
    timeout: 10 minutes
    retry: {maxAttempts: 2, delay: soon}
    steps:
      - {name: s, run: x, timeout: 0s}
      - {name: t, run: x, timeout: 30}
`),
    );
    expect(issueAt(errors, 'jobs[0].timeout')).toMatchObject({ message: expect.stringMatching(/^'timeout' must be a duration greater than zero such as 90s/), line: 5, column: 5 });
    expect(issueAt(errors, 'jobs[0].retry.delay')).toMatchObject({ message: expect.stringMatching(/^'delay' must be a duration/), line: 6, column: 29 });
    expect(issueAt(errors, 'jobs[0].steps[0].timeout').message).toMatch(/greater than zero/);
    expect(issueAt(errors, 'jobs[0].steps[1].timeout').message).toBe("'timeout' must be a duration such as 90s, 5m or 1h30m, got 30");
  });

  it('rejects a working directory outside the workspace', () => {
    for (const dir of ['/etc', '../x', 'a/../../b', 'C:\\temp', '\\\\server\\share']) {
      const errors = invalid(specWithJobs([job('a', { steps: [{ name: 's', run: 'x', workingDirectory: dir }] })]));
      expect(issueAt(errors, 'jobs[0].steps[0].workingDirectory').message).toMatch(/relative to the workspace/);
    }
  });

  it('rejects bad retry counts, env names and values', () => {
    const errors = invalid(specWithJobs([job('a', { retry: { maxAttempts: 0 }, env: { 'BAD-NAME': 'x', OK: { nested: true } } })]));
    expect(issueAt(errors, 'jobs[0].retry.maxAttempts').message).toBe("'maxAttempts' must be at least 1, got 0");
    expect(issueAt(errors, 'jobs[0].env.BAD-NAME').message).toMatch(/^the key 'BAD-NAME' is not a valid environment variable name/);
    expect(issueAt(errors, 'jobs[0].env.OK').message).toBe("'OK' must be a string, number or boolean, got a mapping");
  });

  it('rejects agentSelector together with runsOn, and malformed match expressions', () => {
    const errors = invalid(
      specWithJobs([
        job('a', { runsOn: ['linux'], agentSelector: { matchLabels: { os: 'linux' } } }),
        job('b', { agentSelector: { matchExpressions: [{ key: 'x', operator: 'In' }, { key: 'y', operator: 'Exists', values: ['z'] }, { key: 'z', operator: 'Like' }] } }),
      ]),
    );
    expect(issueAt(errors, 'jobs[0].runsOn').message).toBe("give either 'agentSelector' or 'runsOn', not both");
    expect(issueAt(errors, 'jobs[1].agentSelector.matchExpressions[0].values').message).toMatch(/In and NotIn need a non-empty values list/);
    expect(issueAt(errors, 'jobs[1].agentSelector.matchExpressions[1].values').message).toMatch(/Exists and DoesNotExist take no values/);
    expect(issueAt(errors, 'jobs[1].agentSelector.matchExpressions[2].operator').message).toMatch(/must be one of In, NotIn, Exists, DoesNotExist/);
  });

  it('rejects duplicate job, step and stage names', () => {
    const errors = invalid({
      namespace: 'a',
      version: 'v1',
      stages: [
        { name: 'build', jobs: [job('x', { steps: [{ name: 's', run: '1' }, { name: 's', run: '2' }] })] },
        { name: 'build', jobs: [job('x')] },
      ],
    });
    expect(issueAt(errors, 'stages[0].jobs[0].steps[1].name').message).toMatch(/step name 's' is already used by steps\[0\]/);
    expect(issueAt(errors, 'stages[1].name').message).toMatch(/stage name 'build' is already used/);
    expect(issueAt(errors, 'stages[1].jobs[0].name').message).toBe("job name 'x' is already used by stages[0].jobs[0]; job names must be unique across the pipeline");
  });

  it('rejects keys that could reach an object prototype', () => {
    const errors = invalid('namespace: a\nversion: v1\njobs:\n  - name: a\n    steps: [{name: s, run: x}]\n    env:\n      __proto__: {polluted: true}\n');
    expect(issueAt(errors, 'jobs[0].env.__proto__')).toMatchObject({ message: "'__proto__' is not allowed as a key", line: 7, column: 7 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('expression delimiters', () => {
  it('requires every ${{ to be closed by }}', () => {
    const errors = invalid(
      yamlJobs(`  - name: a
    when: \${{ success()
    steps:
      - name: s
        run: echo \${{ matrix.os }} \${{ env.X
        env: {A: "\${{ }}"}
      - name: fine
        uses: actions/echo@v1
        args: {text: "\${{ format('{0}', 1) }} and \${{ 'a' }}"}
`),
    );
    expect(errors).toEqual([
      { path: 'jobs[0].when', message: "'${{' at character 1 has no closing '}}'", line: 5, column: 11 },
      { path: 'jobs[0].steps[0].run', message: "'${{' at character 23 has no closing '}}'", line: 8, column: 36 },
      { path: 'jobs[0].steps[0].env.A', message: "'${{ }}' is empty: write an expression inside it", line: 9, column: 19 },
    ]);
  });

  it('keeps well-formed expressions untouched in the model', () => {
    const result = compilePipeline(specWithJobs([job('a', { when: '${{ always() }}', matrix: { x: [1] }, steps: [{ name: 's', run: 'echo ${{ trigger.ref }}${{ matrix.x }}' }] })]));
    expect(result.valid).toBe(true);
    expect(result.pipeline?.jobs[0].when).toBe('${{ always() }}');
    expect(result.pipeline?.jobs[0].steps[0].run).toBe('echo ${{ trigger.ref }}${{ matrix.x }}');
  });
});

describe('warnings', () => {
  it('warns about variables nothing refers to, and not about used ones', () => {
    const result = compilePipeline(
      'namespace: a\nversion: v1\nvariables:\n  region: eu\n  unused: x\n  idx: 1\njobs:\n  - name: a\n    steps:\n      - name: s\n        run: deploy ${{ variables.region }} ${{ variables[\'idx\'] }}\n',
    );
    expect(result.valid).toBe(true);
    expect(result.warnings).toEqual([{ path: 'variables.unused', message: "unused variable 'unused': nothing in the spec refers to ${{ variables.unused }}", line: 5, column: 3 }]);
  });

  it('does not warn about a plugin pinned to a major version', () => {
    expect(compilePipeline(specWithJobs([job('a', { steps: [{ name: 's', uses: 'actions/x@v1' }] })])).warnings).toEqual([]);
  });
});
