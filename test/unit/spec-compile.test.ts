// The compiled model: both seed shapes, JSON text and structured input, snake_case, defaults.
import { describe, it, expect } from 'vitest';
import { compilePipeline, countJobsAndStages, SHELL_PLUGIN } from '../../src/spec/index';
import type { CompiledPipeline } from '../../src/spec/index';
import { job, specWithJobs, valid } from './spec-helpers';

const SEED_STAGES = `namespace: demo.pipeline
version: v1
stages:
  - name: build
    jobs:
      - name: build-go
        steps:
          - name: checkout
            uses: actions/git-checkout@v1
            args:
              ref: \${{ trigger.ref }}
          - name: compile
            uses: actions/go-build@v1
            args:
              go_version: "1.25"
`;

const SEED_JOBS = `namespace: demo.pipeline
version: v1
jobs:
  - name: build
    steps:
      - name: compile
        uses: actions/go-build@v1
        args:
          go_version: "1.25"
`;

const SEED_VALIDATE_BODY_SPEC = {
  namespace: 'demo.pipeline',
  version: 'v1',
  jobs: [{ name: 'build', steps: [{ name: 'compile', uses: 'actions/go-build@v1', args: { go_version: '1.25' } }] }],
};

const DEFAULT_RETRY = { maxAttempts: 1, delayMs: 0 };
const NO_SELECTOR = { matchLabels: {}, matchExpressions: [] };

describe('compilePipeline: seed shapes', () => {
  it('compiles the stages shape into exactly the canonical model', () => {
    const pipeline = valid(SEED_STAGES, 'yaml');
    const expected: CompiledPipeline = {
      modelVersion: 1,
      namespace: 'demo.pipeline',
      version: 'v1',
      variables: {},
      env: {},
      triggers: [{ type: 'manual' }],
      stages: [{ name: 'build', index: 0, jobKeys: ['build-go'] }],
      jobs: [
        {
          key: 'build-go',
          name: 'build-go',
          displayName: 'build-go',
          stageIndex: 0,
          stageName: 'build',
          needs: [],
          env: {},
          retry: DEFAULT_RETRY,
          continueOnError: false,
          agentSelector: NO_SELECTOR,
          steps: [
            { name: 'checkout', index: 0, uses: 'actions/git-checkout@v1', args: { ref: '${{ trigger.ref }}' }, env: {}, continueOnError: false, retry: DEFAULT_RETRY },
            { name: 'compile', index: 1, uses: 'actions/go-build@v1', args: { go_version: '1.25' }, env: {}, continueOnError: false, retry: DEFAULT_RETRY },
          ],
        },
      ],
    };
    expect(pipeline).toStrictEqual(expected);
    // No undefined-valued keys leak into the JSON model.
    expect(JSON.parse(JSON.stringify(pipeline))).toStrictEqual(expected);
  });

  it('wraps top-level jobs into one stage named default', () => {
    const pipeline = valid(SEED_JOBS);
    expect(pipeline.stages).toEqual([{ name: 'default', index: 0, jobKeys: ['build'] }]);
    expect(pipeline.jobs[0]).toMatchObject({ key: 'build', stageIndex: 0, stageName: 'default' });
    expect(pipeline.jobs[0].steps[0]).toMatchObject({ uses: 'actions/go-build@v1', args: { go_version: '1.25' } });
  });

  it('gives the same model for YAML text, JSON text and a structured object', () => {
    const fromYaml = valid(SEED_JOBS, 'yml');
    expect(valid(JSON.stringify(SEED_VALIDATE_BODY_SPEC, null, 2), 'json')).toStrictEqual(fromYaml);
    expect(valid(SEED_VALIDATE_BODY_SPEC, 'yaml')).toStrictEqual(fromYaml);
    expect(valid(JSON.stringify(SEED_VALIDATE_BODY_SPEC))).toStrictEqual(fromYaml);
  });

  it('counts jobs and stages for the validate endpoint', () => {
    expect(countJobsAndStages(compilePipeline(SEED_STAGES))).toEqual({ jobsCount: 1, stagesCount: 1 });
    expect(countJobsAndStages(compilePipeline('namespace: x'))).toEqual({ jobsCount: 0, stagesCount: 0 });
  });

  it('flattens jobs in stage order with stage indexes and keys', () => {
    const pipeline = valid({
      namespace: 'n',
      version: '1.2.3',
      stages: [
        { name: 'build', jobs: [job('a'), job('b')] },
        { name: 'test', jobs: [job('c')] },
      ],
    });
    expect(pipeline.jobs.map((j) => [j.key, j.stageIndex, j.stageName])).toEqual([
      ['a', 0, 'build'],
      ['b', 0, 'build'],
      ['c', 1, 'test'],
    ]);
    expect(pipeline.stages).toEqual([
      { name: 'build', index: 0, jobKeys: ['a', 'b'] },
      { name: 'test', index: 1, jobKeys: ['c'] },
    ]);
  });
});

describe('compilePipeline: fields and defaults', () => {
  it('turns run steps into the builtin shell and keeps step fields', () => {
    const pipeline = valid(
      specWithJobs([
        job('build', {
          steps: [
            { name: 'make', run: 'make all', env: { CC: 'gcc', JOBS: 4, DEBUG: false }, when: '${{ success() }}', timeout: '1h30m', continueOnError: true, retry: { maxAttempts: 3, delay: '500ms' }, workingDirectory: './src/../app' },
          ],
        }),
      ]),
    );
    expect(pipeline.jobs[0].steps[0]).toStrictEqual({
      name: 'make',
      index: 0,
      uses: SHELL_PLUGIN,
      args: {},
      run: 'make all',
      env: { CC: 'gcc', JOBS: '4', DEBUG: 'false' },
      when: '${{ success() }}',
      timeoutMs: 5_400_000,
      continueOnError: true,
      retry: { maxAttempts: 3, delayMs: 500 },
      workingDirectory: './src/../app',
    });
    expect(SHELL_PLUGIN).toBe('actions/shell@v1');
  });

  it('compiles job-level blocks: retry, timeout, when, env, source, target, notify, approval', () => {
    const pipeline = valid(
      specWithJobs([
        job('deploy', {
          when: "${{ trigger.branch == 'main' }}",
          env: { STAGE: 'prod' },
          timeout: '10m',
          retry: { maxAttempts: 2 },
          continueOnError: true,
          source: { repo: 'https://example.com/app.git', ref: 'main' },
          target: 'production',
          notify: { onFailure: [{ uses: 'actions/slack@v1', args: { channel: '#ops' } }] },
          approval: { required: true, approvers: ['alice', 'bob'], message: 'Deploy?' },
        }),
      ]),
    );
    expect(pipeline.jobs[0]).toMatchObject({
      when: "${{ trigger.branch == 'main' }}",
      env: { STAGE: 'prod' },
      timeoutMs: 600_000,
      retry: { maxAttempts: 2, delayMs: 0 },
      continueOnError: true,
      source: { type: 'git', repo: 'https://example.com/app.git', ref: 'main' },
      target: 'production',
      notify: { onSuccess: [], onFailure: [{ uses: 'actions/slack@v1', args: { channel: '#ops' } }], onCancel: [] },
      approval: { approvers: ['alice', 'bob'], timeoutMs: 24 * 3_600_000, message: 'Deploy?' },
    });
  });

  it('keeps an approval out of the model unless required is true, with a warning', () => {
    const result = compilePipeline(specWithJobs([job('a')], { approval: { approvers: ['alice'] } }));
    expect(result.valid).toBe(true);
    expect(result.pipeline?.approval).toBeUndefined();
    expect(result.warnings).toEqual([{ path: 'approval.required', message: "this approval has no effect because 'required' is not true" }]);
    const gated = valid(specWithJobs([job('a')], { approval: { required: true, timeout: '2h' } }));
    expect(gated.approval).toEqual({ approvers: [], timeoutMs: 7_200_000, message: '' });
  });

  it('compiles pipeline-level variables, env, timeout and triggers', () => {
    const pipeline = valid(
      specWithJobs([job('a', { steps: [{ name: 's', run: 'echo ${{ variables.region }} ${{ variables.replicas }} ${{ variables.dry }}' }] })], {
        variables: { region: 'eu', replicas: 3, dry: true },
        env: { A: 'b' },
        timeout: '2h',
        triggers: [
          { type: 'manual' },
          { type: 'cron', options: { expression: '0 3 * * *', timezone: 'Europe/Berlin', variables: { region: 'us' } } },
          { type: 'cron', options: { expression: '@daily' } },
          { type: 'event', options: { events: ['push', 'pull_request'], branches: ['main', 'release/*'] } },
        ],
      }),
    );
    expect(pipeline.variables).toEqual({ region: 'eu', replicas: '3', dry: 'true' });
    expect(pipeline.env).toEqual({ A: 'b' });
    expect(pipeline.timeoutMs).toBe(7_200_000);
    expect(pipeline.triggers).toStrictEqual([
      { type: 'manual' },
      { type: 'cron', expression: '0 3 * * *', timezone: 'Europe/Berlin', variables: { region: 'us' } },
      { type: 'cron', expression: '@daily', variables: {} },
      { type: 'event', events: ['push', 'pull_request'], branches: ['main', 'release/*'], paths: [] },
    ]);
  });

  it('turns runsOn labels into matchLabels and keeps agentSelector expressions', () => {
    const pipeline = valid(
      specWithJobs([
        job('a', { runsOn: ['linux', 'arch=arm64'] }),
        job('b', { runsOn: 'gpu' }),
        job('c', { agentSelector: { matchLabels: { zone: 'eu' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['dev'] }, { key: 'ssd', operator: 'Exists' }] } }),
      ]),
    );
    expect(pipeline.jobs.map((j) => j.agentSelector)).toEqual([
      { matchLabels: { linux: 'true', arch: 'arm64' }, matchExpressions: [] },
      { matchLabels: { gpu: 'true' }, matchExpressions: [] },
      { matchLabels: { zone: 'eu' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['dev'] }, { key: 'ssd', operator: 'Exists', values: [] }] },
    ]);
  });

  it('accepts plugin versions vN and x.y.z', () => {
    const pipeline = valid(specWithJobs([job('a', { steps: [{ name: 'x', uses: 'acme/tool.x_y-z@1.2.3', action: 'run' }, { name: 'y', uses: 'Acme/Tool@v12' }] })]));
    expect(pipeline.jobs[0].steps.map((s) => [s.uses, s.action])).toEqual([
      ['acme/tool.x_y-z@1.2.3', 'run'],
      ['Acme/Tool@v12', undefined],
    ]);
  });
});

describe('compilePipeline: snake_case spellings', () => {
  it('accepts snake_case keys everywhere and compiles them like camelCase', () => {
    const snake = `namespace: demo
version: v1
notify:
  on_success: [{uses: actions/slack@v1}]
  on_failure: [{uses: actions/slack@v1, args: {channel: "#ci"}}]
  on_cancel: []
jobs:
  - name: build
    continue_on_error: true
    agent_selector:
      match_labels: {os: linux}
      match_expressions: [{key: gpu, operator: DoesNotExist}]
    retry: {max_attempts: 3, delay: 1s}
    matrix: {go: ["1.24", "1.25"], max_parallel: 1, fail_fast: false}
    steps:
      - {name: a, run: make, continue_on_error: true, working_directory: src}
  - name: test
    depends_on: [build]
    runs_on: linux
    steps: [{name: t, run: make test}]
`;
    const camel = snake
      .replace(/on_success/g, 'onSuccess').replace(/on_failure/g, 'onFailure').replace(/on_cancel/g, 'onCancel')
      .replace(/continue_on_error/g, 'continueOnError').replace('agent_selector', 'agentSelector')
      .replace('match_labels', 'matchLabels').replace('match_expressions', 'matchExpressions')
      .replace('max_attempts', 'maxAttempts').replace('max_parallel', 'maxParallel').replace('fail_fast', 'failFast')
      .replace('working_directory', 'workingDirectory').replace('depends_on', 'needs').replace('runs_on', 'runsOn');
    const fromSnake = valid(snake);
    expect(fromSnake).toStrictEqual(valid(camel));
    expect(fromSnake.jobs[0]).toMatchObject({ continueOnError: true, retry: { maxAttempts: 3, delayMs: 1000 }, matrixGroup: { name: 'build', maxParallel: 1, failFast: false } });
    expect(fromSnake.jobs[2].needs).toEqual(['build (go=1.24)', 'build (go=1.25)']);
    expect(fromSnake.notify?.onFailure).toEqual([{ uses: 'actions/slack@v1', args: { channel: '#ci' } }]);
  });

  it('accepts dependsOn as a spelling of needs, as a list or a single name', () => {
    const pipeline = valid(specWithJobs([job('a'), job('b', { dependsOn: 'a' }), job('c', { needs: ['a', 'b', 'a'] })]));
    expect(pipeline.jobs.map((j) => j.needs)).toEqual([[], ['a'], ['a', 'b']]);
  });
});
