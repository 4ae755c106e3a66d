// Templates (`${{ … }}` inside text), interpolation and `when` conditions.
import { describe, it, expect } from 'vitest';
import { emptyContext, evaluateCondition, ExpressionError, interpolate, parseCondition, splitTemplate } from '../../src/spec/index';
import type { ExpressionContext } from '../../src/spec/index';

const ctx: ExpressionContext = {
  ...emptyContext(),
  trigger: { branch: 'main', ref: 'refs/heads/main' },
  matrix: { os: 'linux', list: [1, 'a'] },
  variables: { region: 'eu' },
  steps: { build: { outputs: { v: '1.0' }, status: 'success' } },
};
const failed: ExpressionContext = { ...ctx, status: { success: false, failure: true, cancelled: false } };
const cancelled: ExpressionContext = { ...ctx, status: { success: false, failure: false, cancelled: true } };

describe('splitTemplate', () => {
  it('splits text and expressions with offsets', () => {
    const split = splitTemplate('a ${{ x }} b${{y}}');
    expect(split).toEqual({
      ok: true,
      segments: [
        { kind: 'text', text: 'a ', offset: 0 },
        { kind: 'expression', source: ' x ', offset: 2, sourceOffset: 5, end: 10 },
        { kind: 'text', text: ' b', offset: 10 },
        { kind: 'expression', source: 'y', offset: 12, sourceOffset: 15, end: 18 },
      ],
    });
  });

  it("does not close an expression at '}}' inside a quoted string", () => {
    const split = splitTemplate("${{ format('{{0}}}}', 'x') }}!");
    expect(split.ok && split.segments.map((s) => (s.kind === 'expression' ? s.source : s.text))).toEqual([" format('{{0}}}}', 'x') ", '!']);
    const escaped = splitTemplate("${{ 'it''s }}' }}");
    expect(escaped.ok && escaped.segments[0]).toMatchObject({ source: " 'it''s }}' " });
  });

  it.each([
    ['x ${{ a', /'\$\{\{' at character 3 has no closing '}}'/, 2],
    ["${{ 'a }}", /the string starting at character 5 is not closed/, 0],
    ['${{ a ${{ b }}', /is not closed with '}}' before the next/, 0],
  ])('reports %j', (text, message, offset) => {
    const split = splitTemplate(text);
    expect(split.ok).toBe(false);
    if (!split.ok) {
      expect(split.error).toBeInstanceOf(ExpressionError);
      expect(split.error.message).toMatch(message);
      expect(split.error.offset).toBe(offset);
    }
  });

  it('keeps text without expressions whole', () => {
    expect(splitTemplate('plain } {{ $ {')).toEqual({ ok: true, segments: [{ kind: 'text', text: 'plain } {{ $ {', offset: 0 }] });
    expect(splitTemplate('')).toEqual({ ok: true, segments: [] });
  });
});

describe('interpolate', () => {
  it.each([
    ['deploy ${{ variables.region }} now', 'deploy eu now'],
    ['${{ trigger.branch }}${{ matrix.os }}', 'mainlinux'],
    ['n=${{ null }}.', 'n=.'],
    ['${{ 1 == 1 }} ${{ 3.50 }} ${{ -0 }}', 'true 3.5 0'],
    ['${{ matrix.list }}', '[1,"a"]'],
    ["${{ fromJSON('{\"a\":1}') }}", '{"a":1}'],
    ['no expressions', 'no expressions'],
    ["${{ '}}' }}", '}}'],
    ['${{ steps.build.outputs.v }}', '1.0'],
  ])('%j → %j', (text, expected) => {
    expect(interpolate(text, ctx)).toBe(expected);
  });

  it('throws an ExpressionError with the offset in the whole text', () => {
    expect(() => interpolate('abc ${{ 1 + }}', ctx)).toThrow(ExpressionError);
    try {
      interpolate('abc ${{ foo }}', ctx);
    } catch (err) {
      expect(err).toBeInstanceOf(ExpressionError);
      expect((err as ExpressionError).offset).toBe(8);
    }
  });

  it('bounds the result to 1 MiB', () => {
    const big = { ...ctx, variables: { x: 'y'.repeat(700_000) } };
    expect(() => interpolate('${{ variables.x }}${{ variables.x }}', big)).toThrow(/at most 1048576/);
  });
});

describe('evaluateCondition', () => {
  it.each([
    ["trigger.branch == 'main'", ctx, true],
    ["${{ trigger.branch == 'main' }}", ctx, true],
    ["  ${{ trigger.branch == 'dev' }}  ", ctx, false],
    ["trigger.branch == 'main'", failed, false],
    ["trigger.branch == 'main'", cancelled, false],
    ['always()', failed, true],
    ['failure()', failed, true],
    ['failure()', ctx, false],
    ['${{ cancelled() }}', cancelled, true],
    ["always() && trigger.branch == 'dev'", failed, false],
    ['success() || failure()', failed, true],
    ["'non-empty'", ctx, true],
    ['0', ctx, false],
    ['', ctx, true],
    ['', failed, false],
    ['matrix.os', ctx, true],
    ['steps.build.status == \'success\'', ctx, true],
  ] as Array<[string, ExpressionContext, boolean]>)('%j', (when, context, expected) => {
    expect(evaluateCondition(when, context)).toBe(expected);
  });

  it('means success() && (expr) only when no status function is used', () => {
    const implicit = parseCondition('1');
    expect(implicit.ok && implicit.ast.kind).toBe('logical');
    const explicit = parseCondition('always()');
    expect(explicit.ok && explicit.ast.kind).toBe('call');
  });

  it('rejects a condition mixing ${{ }} with other text', () => {
    for (const when of ['${{ a }} == b', "x ${{ 'a' }}", '${{ 1 }}${{ 2 }}']) {
      expect(() => evaluateCondition(when, ctx)).toThrow(/a condition must be one expression/);
    }
  });

  it('reports errors with offsets into the when text', () => {
    const parsed = parseCondition('${{ 1 + }}');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.offset).toBe(6);
  });
});
