// The injection defence, tested by running bash: whatever a value contains, in whatever quoting
// position its `${{ }}` sits, bash prints it as data and never runs it.
import { describe, it, expect, beforeEach, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindingEnvironment, emptyContext, ExpressionError, rewriteRunScript } from '../../src/spec/index';
import type { ExpressionContext } from '../../src/spec/index';

const PWNED = join(tmpdir(), `pwned-XYZ-${process.pid}`);
const HOME = '/nonexistent/home-marker';

const PAYLOADS: string[] = [
  `$(touch ${PWNED})`,
  `"; touch ${PWNED}; id #`,
  '"; id #',
  `\`touch ${PWNED}\``,
  `'; touch ${PWNED}; echo owned; '`,
  "'; echo owned; '",
  '$HOME',
  '*',
  '/*',
  'line one\nline two\n',
  `EOF\ntouch ${PWNED}\nEOF`,
  `X\ntouch ${PWNED}\nX`,
  '\\',
  'trailing backslash \\',
  '${IFS}$(id)',
  '$((1+1)) $[1] !! ~',
  `a[$(touch ${PWNED})]`,
  "$'\\x41' \\n \\t",
  '}}${{ x }}',
  ' leading and trailing spaces ',
  '',
  '-n',
  '💥 ünïcödé',
];

function context(payload: string): ExpressionContext {
  return { ...emptyContext(), variables: { p: payload }, matrix: { n: 3 } };
}

function bash(script: string, payload: string): { stdout: string; stderr: string; status: number | null } {
  const rewritten = rewriteRunScript(script);
  const env = bindingEnvironment(rewritten.bindings, context(payload));
  const result = spawnSync('bash', ['-c', rewritten.script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME, ...env }, encoding: 'utf8', cwd: tmpdir(), timeout: 10_000 });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

const P = '${{ variables.p }}';

/** Each position: the script, and what it must print for a payload. */
const POSITIONS: Array<[string, string, (p: string) => string]> = [
  ['bare', `printf '%s\\n' ${P}`, (p) => `${p}\n`],
  ['bare, glued to text', `printf '%s\\n' pre${P}post`, (p) => `pre${p}post\n`],
  ['double-quoted', `printf '%s\\n' "pre ${P} post"`, (p) => `pre ${p} post\n`],
  ['single-quoted', `printf '%s\\n' 'pre ${P} post'`, (p) => `pre ${p} post\n`],
  ['ansi-c quoted', `printf '%s\\n' $'tab\\t${P}\\tend'`, (p) => `tab\t${p}\tend\n`],
  ['unquoted heredoc', `cat <<EOF\npre ${P} post\n$HOME\nEOF\necho after`, (p) => `pre ${p} post\n${HOME}\nafter\n`],
  ['heredoc with <<-', `cat <<-EOF\n\tpre ${P}\n\tEOF\necho after`, (p) => `pre ${p}\nafter\n`],
  ['quoted heredoc', `cat <<'EOF'\npre ${P}\nEOF\necho after`, () => 'pre ${ARCENTRA_EXPR_0}\nafter\n'],
  ['comment', `echo ok # ${P}`, () => 'ok\n'],
  ['command substitution', `printf '%s\\n' "$(printf '%s' ${P})"`, (p) => `${p.replace(/\n+$/, '')}\n`],
  ['backticks', 'v=`printf "%s" ' + P + '`; printf \'%s\\n\' "$v"', (p) => `${p.replace(/\n+$/, '')}\n`],
  ['parameter default, quoted', `printf '%s\\n' "\${UNSET_VAR:-${P}}"`, (p) => `${p}\n`],
  ['parameter default, bare', `printf '%s\\n' \${UNSET_VAR:-${P}}`, (p) => `${p}\n`],
  ['assignment', `v=${P}; printf '%s\\n' "$v"`, (p) => `${p}\n`],
  ['test', `if [[ ${P} == "never-this" ]]; then echo same; else echo differs; fi`, () => 'differs\n'],
  ['test, pattern side', `if [[ "never-this" == ${P} ]]; then echo same; else echo differs; fi`, () => 'differs\n'],
  ['hash inside a word', `printf '%s\n' a#${P}`, (p) => `a#${p}\n`],
  ['nested quotes in $( ) in "…"', `printf '%s\n' "$(printf '%s' "<${P}>")"`, (p) => `<${p}>\n`],
  ['here-string', `cat <<< ${P}`, (p) => `${p}\n`],
  ['two heredocs on one line', `{ cat; cat <&3; } <<'A' 3<<B\n${P}\nA\n${P}\nB\necho after`, (p) => `\${ARCENTRA_EXPR_0}\n${p}\nafter\n`],
  ['heredoc inside $( )', `v=$(cat <<EOF\n${P}\nEOF\n); printf '%s\n' "$v"`, (p) => `${p.replace(/\n+$/, '')}\n`],
  ['line continuation', `printf '%s\n' \\\n  ${P}`, (p) => `${p}\n`],
  ['case', `case ${P} in *) echo matched ;; esac`, () => 'matched\n'],
  ['escaped dollar before', `printf '%s\\n' \\$${P}`, (p) => `$${p}\n`],
  ['dollar before', `printf '%s\\n' "$${P}"`, (p) => `$${p}\n`],
  ['backslash before', `printf '%s\\n' \\${P}`, (p) => `\\${p}\n`],
  ['twice on one line', `printf '%s|%s\\n' ${P} "${P}"`, (p) => `${p}|${p}\n`],
];

beforeEach(() => rmSync(PWNED, { force: true }));
afterAll(() => rmSync(PWNED, { force: true }));

describe('the test harness', () => {
  it('detects injection when values are pasted into the script (the attack this prevents)', () => {
    const naive = `echo ${`$(touch ${PWNED})`}`;
    spawnSync('bash', ['-c', naive], { encoding: 'utf8' });
    expect(existsSync(PWNED)).toBe(true);
  });
});

describe('rewriteRunScript runs every payload as data', () => {
  for (const [position, script, expected] of POSITIONS) {
    it.each(PAYLOADS.map((p) => [JSON.stringify(p).slice(0, 50), p]))(`${position}: %s`, (_label, payload) => {
      const result = bash(script, payload);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(expected(payload));
      expect(existsSync(PWNED)).toBe(false);
    });
  }
});

describe('rewriteRunScript output', () => {
  it('names each binding and records its quoting context', () => {
    const script = `echo ${P} "${P}" '${P}' $'${P}' # ${P}\ncat <<EOF\n${P}\nEOF\ncat <<"Q"\n${P}\nQ\necho $(( \${{ matrix.n }} + 1 ))`;
    const { script: out, bindings } = rewriteRunScript(script);
    expect(bindings.map((b) => [b.name, b.context])).toEqual([
      ['ARCENTRA_EXPR_0', 'bare'],
      ['ARCENTRA_EXPR_1', 'double-quoted'],
      ['ARCENTRA_EXPR_2', 'single-quoted'],
      ['ARCENTRA_EXPR_3', 'ansi-c'],
      ['ARCENTRA_EXPR_4', 'comment'],
      ['ARCENTRA_EXPR_5', 'heredoc'],
      ['ARCENTRA_EXPR_6', 'quoted-heredoc'],
      ['ARCENTRA_EXPR_7', 'arithmetic'],
    ]);
    expect(bindings[0].expression).toBe('variables.p');
    expect(out).toBe(
      'echo "${ARCENTRA_EXPR_0}" "${ARCENTRA_EXPR_1}" \'\'"${ARCENTRA_EXPR_2}"\'\' $\'\'"${ARCENTRA_EXPR_3}"$\'\' # ${ARCENTRA_EXPR_4}\n' +
        'cat <<EOF\n${ARCENTRA_EXPR_5}\nEOF\ncat <<"Q"\n${ARCENTRA_EXPR_6}\nQ\necho $(( "${ARCENTRA_EXPR_7}" + 1 ))',
    );
    expect(out).not.toContain('${{');
  });

  it('leaves a script without expressions unchanged', () => {
    const script = "echo '$HOME' \"$PATH\" # ${x}\n";
    expect(rewriteRunScript(script)).toEqual({ script, bindings: [] });
  });

  it('throws an ExpressionError for a broken ${{', () => {
    expect(() => rewriteRunScript('echo ${{ x')).toThrow(ExpressionError);
  });

  it('marks [[ … -gt … ]] and ${a[…]} as arithmetic', () => {
    const { bindings } = rewriteRunScript(`[[ ${P} -gt 1 ]]; [[ ${P} == x ]]; a=(1 2); echo "\${a[${P}]}"; (( ${P} > 2 ))`);
    expect(bindings.map((b) => b.context)).toEqual(['arithmetic', 'bare', 'arithmetic', 'arithmetic']);
  });
});

describe('arithmetic bindings', () => {
  const script = `echo $(( ${P} + 1 )); if [[ ${P} -gt 1 ]]; then echo big; fi`;

  it('work with numbers', () => {
    expect(bash(script, '41')).toEqual({ stdout: '42\nbig\n', stderr: '', status: 0 });
  });

  it('refuse any other value before bash sees it', () => {
    for (const payload of [`a[$(touch ${PWNED})]`, '1+1', '', 'x']) {
      expect(() => bash(script, payload)).toThrow(/shell arithmetic, where only a number is safe/);
      expect(existsSync(PWNED)).toBe(false);
    }
  });
});
