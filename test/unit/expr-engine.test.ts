// The expression engine, table-driven: literals, operators, coercion, functions, contexts, errors.
import { describe, it, expect } from 'vitest';
import { evaluate, emptyContext, EXPRESSION_LIMITS, ExpressionError, parseExpression } from '../../src/spec/index';
import type { ExpressionContext } from '../../src/spec/index';

const ctx: ExpressionContext = {
  ...emptyContext(),
  trigger: { type: 'event', ref: 'refs/heads/main', branch: 'main', tag: '', commitSha: 'abc123', event: { labels: [{ name: 'bug' }, { name: 'ui' }, { id: 3 }] }, actor: 'alice' },
  variables: { region: 'eu', replicas: '3', empty: '' },
  env: { PATH_LIKE: '/usr/bin', Mixed: 'yes' },
  matrix: { os: 'linux', go: '1.25', n: 2 },
  secrets: { TOKEN: 's3cr3t' },
  pipeline: { id: 'pl_1', name: 'demo', namespace: 'demo.pipeline', runId: 'run_9', number: 42 },
  job: { status: 'success' },
  steps: { build: { outputs: { version: '1.2.3', json: '{"a":[1,2],"b":{"c":true}}' }, status: 'success' }, test: { outputs: {}, status: 'failure' } },
  status: { success: true, failure: false, cancelled: false },
};

function run(text: string, context: ExpressionContext = ctx): unknown {
  const parsed = parseExpression(text);
  if (!parsed.ok) throw parsed.error;
  return evaluate(parsed.ast, context);
}

const VALUES: Array<[string, unknown]> = [
  // literals
  ['null', null],
  ['true', true],
  ['false', false],
  ['42', 42],
  ['-7', -7],
  ['3.5', 3.5],
  ['0xff', 255],
  ['-0x10', -16],
  ['0o17', 15],
  ['1e3', 1000],
  ['2.5E-1', 0.25],
  ['.5', 0.5],
  ["'hello'", 'hello'],
  ["'it''s'", "it's"],
  ["''", ''],
  ["'}}'", '}}'],
  // property access and indexing
  ['trigger.branch', 'main'],
  ["trigger['branch']", 'main'],
  ['TRIGGER.BRANCH', 'main'],
  ['trigger.missing', null],
  ['trigger.branch.deeper', null],
  ['env.mixed', 'yes'],
  ['steps.build.outputs.version', '1.2.3'],
  ['steps.build.status', 'success'],
  ["steps['build']['outputs']['version']", '1.2.3'],
  ['steps.nope.outputs.x', null],
  ['pipeline.number', 42],
  ['trigger.event.labels[0].name', 'bug'],
  ['trigger.event.labels[1.9].name', 'ui'],
  ['trigger.event.labels[5]', null],
  ['trigger.event.labels[-1]', null],
  ["trigger.event.labels['0']", null],
  ['trigger.event.labels.*.name', ['bug', 'ui']],
  ['trigger.event.labels[*].name', ['bug', 'ui']],
  ['matrix.*', ['linux', '1.25', 2]],
  ['secrets.TOKEN', 's3cr3t'],
  ["env['__proto__']", null],
  ['env.constructor', null],
  // operators
  ['!true', false],
  ['!!0', false],
  ["!''", true],
  ['!null', true],
  ['!trigger', false],
  ["1 == 1", true],
  ["1 != 2", true],
  ["'abc' == 'ABC'", true],
  ["'abc' != 'ABD'", true],
  ["1 == '1'", true],
  ["'0x10' == 16", true],
  ["'1e2' == 100", true],
  ["' 5 ' == 5", true],
  ["'' == 0", true],
  ['null == 0', true],
  ['null == false', true],
  ["null == ''", true],
  ['true == 1', true],
  ["true == 'true'", false],
  ["'abc' == 0", false],
  ['matrix == matrix', true],
  ['matrix == 0', false],
  ["fromJSON('[]') == fromJSON('[]')", false],
  ['2 < 10', true],
  ["'2' < 10", true],
  ["'b' > 'A'", true],
  ["'a' < 'B'", true],
  ['3 >= 3', true],
  ['3 <= 2', false],
  ['matrix < matrix', false],
  ["'x' < 1", false],
  ['null <= null', true],
  ["'a' && 'b'", 'b'],
  ["'' && 'b'", ''],
  ["0 || 'fallback'", 'fallback'],
  ["'first' || 'second'", 'first'],
  ['null || false', false],
  ['1 && 2 && 3', 3],
  ['(1 || 0) && (0 || 5)', 5],
  ["trigger.branch == 'main' && !cancelled()", true],
  ["1 == 1 == true", true],
  ['!(1 < 2)', false],
  // functions
  ["contains('Hello World', 'WORLD')", true],
  ["contains('abc', 'x')", false],
  ["contains(fromJSON('[\"Linux\",\"mac\"]'), 'linux')", true],
  ["contains(fromJSON('[1,2]'), '2')", true],
  ['contains(trigger.event.labels.*.name, \'ui\')', true],
  ["contains(null, '')", true],
  ["startsWith(trigger.ref, 'REFS/heads/')", true],
  ["startsWith('abc', 'b')", false],
  ["endsWith('file.TXT', '.txt')", true],
  ["endsWith(42, 2)", true],
  ["format('{0}-{1}', 'a', 2)", 'a-2'],
  ["format('{{literal}} {0}', true)", '{literal} true'],
  ["format('{1}{0}{1}', 'x', 'y')", 'yxy'],
  ["format('no placeholders')", 'no placeholders'],
  ["format('}}{{')", '}{'],
  ["join(fromJSON('[1,2,3]'))", '1,2,3'],
  ["join(fromJSON('[1,2,3]'), ' + ')", '1 + 2 + 3'],
  ["join('single', ',')", 'single'],
  ['join(trigger.event.labels.*.name, \'|\')', 'bug|ui'],
  ['toJSON(matrix)', '{\n  "os": "linux",\n  "go": "1.25",\n  "n": 2\n}'],
  ["toJSON('x')", '"x"'],
  ['toJSON(null)', 'null'],
  ['fromJSON(steps.build.outputs.json).b.c', true],
  ["fromJSON('42')", 42],
  ["fromJSON('\"s\"')", 's'],
  ["fromJSON('{\"__proto__\": {\"x\": 1}}').__proto__.x", 1],
  ['success()', true],
  ['failure()', false],
  ['cancelled()', false],
  ['always()', true],
  ["FORMAT('{0}', 1)", '1'],
  ["toJson(fromJson('[1]'))", '[\n  1\n]'],
];

describe('expression values', () => {
  it.each(VALUES)('%s', (text, expected) => {
    expect(run(text)).toStrictEqual(expected);
  });

  it('has at least 60 value cases', () => {
    expect(VALUES.length).toBeGreaterThanOrEqual(60);
  });
});

const TRUTHINESS: Array<[string, boolean]> = [
  ['0', false],
  ['-0', false],
  ["''", false],
  ['null', false],
  ['false', false],
  ["fromJSON('NaN' == 'x')", false],
  ['1', true],
  ["'0'", true],
  ["'false'", true],
  ["fromJSON('[]')", true],
  ["fromJSON('{}')", true],
];

describe('truthiness', () => {
  it.each(TRUTHINESS)('!!(%s) is %s', (text, expected) => {
    expect(run(`!!(${text})`)).toBe(expected);
  });
});

const PARSE_ERRORS: Array<[string, RegExp, number]> = [
  ['', /empty/, 0],
  ['   ', /empty/, 0],
  ['1 +', /unexpected character "\+"/, 2],
  ['"double"', /single quotes/, 0],
  ["'unterminated", /not closed/, 0],
  ['a = b', /'=' is not an operator; compare with '=='/, 2],
  ['a & b', /use '&&'/, 2],
  ['a | b', /use '\|\|'/, 2],
  ['1 2', /found the number 2 after a complete expression/, 2],
  ['(1', /expected '\)' to close '\('/, 2],
  ['a[1', /expected '\]' to close '\['/, 3],
  ['a.', /expected a property name after '\.'/, 2],
  ['a.1', /expected a property name/, 2],
  ['format(1,', /ends where a value is expected/, 9],
  ['contains(1 2)', /expected '\)' to close the arguments of contains\(/, 11],
  ['12abc', /'12abc' is not a valid number/, 0],
  ['${{ x }}', /cannot contain another/, 0],
  ['==', /expected a value, got '=='/, 0],
  ['!', /ends where a value is expected/, 1],
  ['a b', /found 'b' after a complete expression/, 2],
  ['- 1', /negative number/, 0],
];

describe('parse errors', () => {
  it.each(PARSE_ERRORS)('%j', (text, message, offset) => {
    const parsed = parseExpression(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toBeInstanceOf(ExpressionError);
    expect(parsed.error.message).toMatch(message);
    expect(parsed.error.offset).toBe(offset);
  });
});

const EVAL_ERRORS: Array<[string, RegExp]> = [
  ['foo', /unknown context 'foo'/],
  ['foo.bar', /unknown context 'foo'/],
  ['nope()', /unknown function 'nope'/],
  ['contains(1)', /contains\(\) takes 2 arguments, got 1/],
  ['success(1)', /success\(\) takes 0 arguments, got 1/],
  ['join()', /join\(\) takes 1 to 2 arguments, got 0/],
  ['format()', /format\(\) takes at least 1 argument, got 0/],
  ["format('{0}')", /placeholder \{0\} has no argument/],
  ["format('{x}', 1)", /must start a placeholder/],
  ["format('a}b')", /closes nothing/],
  ["format('{0', 1)", /must start a placeholder/],
  ["fromJSON('{bad')", /not valid JSON/],
  ["fromJSON('')", /not valid JSON/],
];

describe('evaluation errors', () => {
  it.each(EVAL_ERRORS)('%s', (text, message) => {
    let thrown: unknown;
    try {
      run(text);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ExpressionError);
    expect((thrown as ExpressionError).message).toMatch(message);
    expect(typeof (thrown as ExpressionError).offset).toBe('number');
  });
});

describe('bounds', () => {
  it('rejects expressions longer than 4096 characters', () => {
    const parsed = parseExpression(`'${'x'.repeat(EXPRESSION_LIMITS.maxLength)}'`);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(/at most 4096/);
    expect(parseExpression(`'${'x'.repeat(EXPRESSION_LIMITS.maxLength - 2)}'`).ok).toBe(true);
  });

  it('rejects nesting deeper than 64, whether by brackets, ! or chains', () => {
    for (const text of ['('.repeat(65) + '1' + ')'.repeat(65), '!'.repeat(70) + 'true', `trigger${'.a'.repeat(70)}`, Array.from({ length: 70 }, () => '1').join(' == '), 'a['.repeat(70) + '1' + ']'.repeat(70)]) {
      const parsed = parseExpression(text);
      expect(parsed.ok, text.slice(0, 30)).toBe(false);
      if (!parsed.ok) expect(parsed.error.message).toMatch(/nests more than 64 levels/);
    }
    expect(parseExpression('('.repeat(60) + '1' + ')'.repeat(60)).ok).toBe(true);
  });

  it('keeps long && and || chains flat', () => {
    const chain = Array.from({ length: 500 }, (_, i) => `${i + 1}`).join(' && ');
    expect(run(chain)).toBe(500);
    expect(run(Array.from({ length: 500 }, () => "''").join(' || '))).toBe('');
  });

  it('refuses fromJSON input over 64 KiB and values nested over 64 deep', () => {
    const big = { ...ctx, variables: { big: JSON.stringify('x'.repeat(EXPRESSION_LIMITS.maxFromJsonBytes)) } };
    expect(() => run('fromJSON(variables.big)', big)).toThrow(/larger than 65536 bytes/);
    const deep = { ...ctx, variables: { deep: '['.repeat(70) + ']'.repeat(70) } };
    expect(() => run('fromJSON(variables.deep)', deep)).toThrow(/nests more than 64/);
    const ok = { ...ctx, variables: { deep: '['.repeat(60) + ']'.repeat(60) } };
    expect(run('fromJSON(variables.deep) != null', ok)).toBe(true);
  });

  it('refuses results longer than 1 MiB from format, join and toJSON', () => {
    const mb = { ...ctx, variables: { half: 'x'.repeat(600_000) } };
    expect(() => run("format('{0}{0}', variables.half)", mb)).toThrow(ExpressionError);
    expect(() => run("format('{0}{0}', variables.half)", mb)).toThrow(/at most 1048576/);
    const list = { ...ctx, matrix: { items: Array.from({ length: 3 }, () => 'y'.repeat(400_000)) } };
    expect(() => run('join(matrix.items)', list)).toThrow(/at most 1048576/);
    expect(() => run('toJSON(matrix)', list)).toThrow(/at most 1048576/);
    expect(run("format('{0}', variables.half)", mb)).toHaveLength(600_000);
  });

  it('turns data JSON cannot hold into an ExpressionError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => run('toJSON(job)', { ...ctx, job: cyclic })).toThrow(ExpressionError);
  });

  it('reads missing or odd contexts as null instead of failing', () => {
    const sparse = { status: { success: true, failure: false, cancelled: false } } as unknown as ExpressionContext;
    expect(run('trigger.branch', sparse)).toBeNull();
    expect(run("steps.x.outputs.y == ''", sparse)).toBe(true);
    const odd = { ...ctx, env: { F: (() => 1) as unknown as string, U: undefined as unknown as string } };
    expect(run('env.F', odd)).toBeNull();
    expect(run('env.U', odd)).toBeNull();
  });

  it('never uses JavaScript eval', () => {
    // A string that would be code to eval is only ever data here.
    expect(run("'constructor.constructor(\"return process\")()'")).toBe('constructor.constructor("return process")()');
    expect(parseExpression('constructor.constructor').ok).toBe(true);
    expect(() => run('constructor.constructor')).toThrow(/unknown context 'constructor'/);
  });
});
