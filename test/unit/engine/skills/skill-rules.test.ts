/** The host's skill rules, without Python: names, sources, the file format. */
import { describe, expect, it } from 'vitest';
import {
  decodeSkillFile,
  definesFunction,
  encodeSkillFile,
  isStoreName,
  MAX_SKILL_SOURCE_BYTES,
  skillNameProblem,
  sourceProblem,
  validateSkillDraft,
  versionFileName,
  versionOfFile,
} from '../../../../src/engine/skills/skill-rules.js';
import { HostCallError } from '../../../../src/sandbox/types.js';

describe('skillNameProblem', () => {
  it.each(['fetch_issues', 'summarize', 'F', 'a1_b2', 'matchmaker', 'x'.repeat(64)])('accepts %j', (name) => {
    expect(skillNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['', /ASCII identifier/],
    ['_private', /starts with a letter/],
    ['__import__', /starts with a letter/],
    ['1st', /ASCII identifier/],
    ['../x', /ASCII identifier/],
    ['a/b', /ASCII identifier/],
    ['a.b', /ASCII identifier/],
    ['a\u0000b', /ASCII identifier/],
    ['naïve', /ASCII identifier/],
    ['x'.repeat(65), /at most 64/],
    ['def', /keyword/],
    ['match', /keyword/],
    ['print', /builtin/],
    ['len', /builtin/],
    ['ValueError', /builtin/],
    ['os', /standard library/],
    ['json', /standard library/],
    ['asyncio', /standard library/],
    ['mcp', /sandbox gives/],
    ['mcp_memory', /sandbox gives/],
    ['save_tool', /sandbox gives/],
    ['skills', /sandbox gives/],
    ['LOADED_MCP_SERVERS', /sandbox gives/],
  ])('refuses %j', (name, message) => {
    expect(skillNameProblem(name)).toMatch(message);
  });

  it.each([undefined, null, 3, ['a'], { name: 'a' }])('refuses the non-string %j', (name) => {
    expect(skillNameProblem(name)).toMatch(/ASCII identifier/);
  });
});

describe('isStoreName', () => {
  it.each(['os', 'fetch', 'A_1', '_x'])(
    'accepts %j (a name the store may hold, even one it would not save)',
    (name) => {
      expect(isStoreName(name)).toBe(true);
    },
  );
  it.each(['', '.', '..', '../x', 'a/b', 'a\\b', '.tmp', 'a\u0000', 'x'.repeat(65), 5, undefined])(
    'refuses %j',
    (name) => {
      expect(isStoreName(name)).toBe(false);
    },
  );
});

describe('sources', () => {
  it.each([
    ['def f():\n    pass\n', true],
    ['async def f(a, b=1):\n    return a\n', true],
    ['import json\n\nX = 1\n\ndef f (x):\n    return x\n', true],
    ['def g():\n    def f():\n        pass\n', false],
    ['class C:\n    def f(self):\n        pass\n', false],
    ['f = lambda: 1\n', false],
    ['def ff():\n    pass\n', false],
    ['# def f():\n', false],
  ])('definesFunction(%j, "f") is %s', (source, expected) => {
    expect(definesFunction(source, 'f')).toBe(expected);
  });

  it('bounds size, and refuses NUL and lone surrogates', () => {
    const body = 'def f():\n    return 1\n';
    expect(sourceProblem(body, 'f')).toBeUndefined();
    expect(sourceProblem(`${body}#${'x'.repeat(MAX_SKILL_SOURCE_BYTES)}`, 'f')).toMatch(/at most 65,536/);
    // Bytes, not characters: 30,000 three-byte characters are over the cap.
    expect(sourceProblem(`${body}#${'€'.repeat(30_000)}`, 'f')).toMatch(/bytes/);
    expect(sourceProblem(`${body}\u0000`, 'f')).toMatch(/NUL/);
    expect(sourceProblem(`${body}#\ud800`, 'f')).toMatch(/UTF-8/);
    expect(sourceProblem(`${body}#😀`, 'f')).toBeUndefined();
    expect(sourceProblem(body, 'g')).toMatch(/does not define a function 'g'/);
  });
});

describe('validateSkillDraft', () => {
  const good = {
    name: 'top_words',
    source: 'def top_words(text):\n    return text\n',
    description: 'The most common words.',
    signature: '(text)',
    parameters: ['text'],
    isAsync: false,
    servers: ['memory'],
  };

  it('keeps a valid draft', () => {
    expect(validateSkillDraft(good)).toEqual(good);
  });

  it('cleans metadata instead of refusing it', () => {
    const draft = validateSkillDraft({
      ...good,
      description: `${'d'.repeat(5000)}\u0000`,
      signature: 'not a signature',
      parameters: ['ok', 'not ok', 3, 'x'.repeat(100)],
      isAsync: 'yes',
      servers: 'memory',
    });
    expect(draft.description.length).toBe(2000);
    expect(draft.signature).toBe('');
    expect(draft.parameters).toEqual(['ok']);
    expect(draft.isAsync).toBe(false);
    expect(draft.servers).toEqual([]);
  });

  it.each([
    [{ ...good, name: '__import__' }, /cannot save a skill named "__import__"/],
    [{ ...good, name: 'os' }, /standard library/],
    [{ ...good, name: '../x' }, /ASCII identifier/],
    [{ ...good, name: 'x'.repeat(10_000) }, /named "x{80}…"/],
    [{ ...good, source: '' }, /non-empty string/],
    [{ ...good, source: 42 }, /non-empty string/],
    [{ ...good, source: 'print(1)\n' }, /does not define a function 'top_words'/],
    [{ ...good, source: `${good.source}#${'x'.repeat(70_000)}` }, /at most 65,536/],
  ])('refuses %#', (args, message) => {
    let caught: unknown;
    try {
      validateSkillDraft(args as Record<string, unknown>);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HostCallError);
    expect((caught as HostCallError).code).toBe('INVALID_SKILL');
    expect((caught as HostCallError).message).toMatch(message);
  });
});

describe('the version file', () => {
  const header = {
    name: 'f',
    savedAt: '2026-01-02T03:04:05.000Z',
    description: 'Line one\nline two',
    signature: '(a, b=1)',
    parameters: ['a', 'b'],
    isAsync: true,
    servers: ['memory'],
  };
  const source = 'import json\n\nasync def f(a, b=1):\n    return json.dumps(a)\n';

  it('round-trips metadata and source, the source byte for byte', () => {
    const text = encodeSkillFile(header, source);
    expect(text.split('\n')[0]).toMatch(/^# codemode-bridge skill: \{/);
    expect(decodeSkillFile(text)).toEqual({ header, source });
  });

  it('reads a file written by hand as all source, and drops a metadata line that does not parse', () => {
    expect(decodeSkillFile(source)).toEqual({ header: {}, source });
    expect(decodeSkillFile(`# codemode-bridge skill: {not json\n${source}`)).toEqual({ header: {}, source });
    expect(decodeSkillFile('# codemode-bridge skill: [1]\ndef f(): pass\n').header).toEqual({});
  });

  it.each([
    ['v1.py', 1],
    ['v12.py', 12],
    ['v0.py', undefined],
    ['v01.py', undefined],
    ['v1.py.tmp', undefined],
    ['x1.py', undefined],
    ['v1234567890.py', undefined],
  ])('versionOfFile(%j) is %s', (file, version) => {
    expect(versionOfFile(file)).toBe(version);
  });

  it('names versions the way it reads them', () => {
    expect(versionOfFile(versionFileName(7))).toBe(7);
  });
});
