import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decide, limitsFor, restoresTo, type ToolHints } from '../../../../src/engine/policy/policy.js';
import {
  compilePolicy,
  lineOf,
  loadPolicyFile,
  PolicyFileError,
} from '../../../../src/engine/policy/policy-file.js';

const READ: ToolHints = { readOnlyHint: true, openWorldHint: false };
const WRITE: ToolHints = { readOnlyHint: false, destructiveHint: true, openWorldHint: false };
const CREATE: ToolHints = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});
function file(name: string, text: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'policy-test-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('decide', () => {
  it('allows everything under an empty policy', () => {
    const policy = compilePolicy({}, 'p.json');
    expect(decide(policy, 'fs', 'write_file', WRITE)).toMatchObject({ action: 'allow', rule: 'default' });
  });

  it('lets the strictest matching rule win, whatever the order', () => {
    const policy = compilePolicy(
      {
        allow: ['fs.*'],
        deny: ['*.write_*'],
        servers: { fs: { ask: ['write_file'], allow: ['write_file'] } },
      },
      'p.json',
    );
    expect(decide(policy, 'fs', 'write_file', WRITE)).toMatchObject({
      action: 'deny',
      rule: 'deny["*.write_*"]',
    });
    expect(decide(policy, 'fs', 'read_file', READ)).toMatchObject({ action: 'allow', rule: 'allow["fs.*"]' });
  });

  it('matches a tool and a server by their Python names as well as their own', () => {
    const policy = compilePolicy(
      { deny: ['everything.get_*'], servers: { my_server: { ask: ['add_item'] } } },
      'p.json',
    );
    expect(decide(policy, 'everything', 'get-sum', CREATE)).toMatchObject({
      action: 'deny',
      rule: 'deny["everything.get_*"]',
    });
    expect(decide(policy, 'my-server', 'add-item', CREATE)).toMatchObject({
      action: 'ask',
      rule: 'servers.my_server.ask["add_item"]',
    });
    expect(decide(policy, 'everything', 'echo', CREATE).action).toBe('allow');
  });

  it('read_only admits only tools annotated readOnlyHint: true (missing annotations are not read-only)', () => {
    const policy = compilePolicy({ servers: { fs: { read_only: true } } }, 'p.json');
    expect(decide(policy, 'fs', 'read_file', READ).action).toBe('allow');
    expect(decide(policy, 'fs', 'write_file', WRITE)).toMatchObject({
      action: 'deny',
      rule: 'servers.fs.read_only',
    });
    expect(decide(policy, 'fs', 'mystery', undefined).action).toBe('deny');
    expect(decide(policy, 'fs', 'mystery', {}).action).toBe('deny');
    expect(decide(policy, 'other', 'write_file', WRITE).action).toBe('allow');
  });

  it('destructive and open_world follow MCP defaults for missing hints', () => {
    const policy = compilePolicy({ destructive: 'ask', open_world: 'deny' }, 'p.json');
    expect(decide(policy, 'fs', 'write_file', WRITE)).toMatchObject({ action: 'ask', rule: 'destructive' });
    expect(decide(policy, 'fs', 'create_directory', CREATE).action).toBe('allow');
    expect(decide(policy, 'fs', 'read_file', READ).action).toBe('allow');
    // No annotations: destructive and open-world, so the stricter open_world rule wins.
    expect(decide(policy, 'web', 'fetch', undefined)).toMatchObject({ action: 'deny', rule: 'open_world' });
  });

  it('takes the default of the most specific section; an entry block only tightens', () => {
    const policy = compilePolicy(
      { default: 'deny', servers: { 'f*': { default: 'ask' }, fs: { default: 'allow' } } },
      'p.json',
      undefined,
      [],
    );
    expect(decide(policy, 'fs', 'x', READ)).toMatchObject({ action: 'allow', rule: 'servers.fs.default' });
    expect(decide(policy, 'files', 'x', READ)).toMatchObject({ action: 'ask', rule: 'servers."f*".default' });
    expect(decide(policy, 'mem', 'x', READ)).toMatchObject({ action: 'deny', rule: 'default' });
  });

  it('config entry blocks add rules and tighten the default', () => {
    const path = file('.claude.json', JSON.stringify({ mcpServers: { fs: { command: 'x', policy: {} } } }));
    const policy = compilePolicy({}, 'p.json', undefined, [
      { server: 'fs', source: path, value: { default: 'ask', deny: ['move_*'] } },
    ]);
    expect(decide(policy, 'fs', 'move_file', WRITE)).toMatchObject({
      action: 'deny',
      rule: 'fs.policy.deny["move_*"]',
    });
    expect(decide(policy, 'fs', 'read_file', READ)).toMatchObject({
      action: 'ask',
      rule: 'fs.policy.default',
    });
    const loose = compilePolicy({ default: 'deny' }, 'p.json', undefined, [
      { server: 'fs', source: path, value: { default: 'allow' } },
    ]);
    expect(decide(loose, 'fs', 'read_file', READ).action).toBe('deny');
  });

  it('computes per-server limits as the strictest that applies', () => {
    const policy = compilePolicy(
      {
        budget: { tool_calls: 100, calls_per_tool: 10, result_bytes: '1m' },
        servers: {
          '*': { rate_limit: { calls: 10, per_seconds: 1 } },
          fs: { calls_per_tool: 3, tool_calls: 5, rate_limit: { calls: 2, per_seconds: 1 } },
        },
      },
      'p.json',
    );
    expect(policy.budget).toEqual({ toolCalls: 100, callsPerTool: 10, resultBytes: 1024 * 1024 });
    expect(limitsFor(policy, 'fs')).toEqual({
      callsPerTool: { limit: 3, rule: 'servers.fs.calls_per_tool' },
      toolCalls: { limit: 5, rule: 'servers.fs.tool_calls' },
      rateLimit: { calls: 2, perMs: 1000, rule: 'servers.fs.rate_limit' },
    });
    expect(limitsFor(policy, 'mem')).toEqual({
      callsPerTool: { limit: 10, rule: 'budget.calls_per_tool' },
      rateLimit: { calls: 10, perMs: 1000, rule: 'servers."*".rate_limit' },
    });
  });
});

describe('policy files', () => {
  it('reads TOML', () => {
    const path = file(
      'policy.toml',
      [
        'default = "deny"',
        'destructive = "ask"',
        '',
        '[budget]',
        'tool_calls = 50',
        '',
        '[servers.filesystem]',
        'allow = ["read_*", "list_*"]',
        'rate_limit = { calls = 5, per_seconds = 2 }',
        '',
        '[approval]',
        'without_elicitation = "allow"',
        '',
        '[tokenize]',
        'detect = ["email"]',
        'restore_to = ["mail", "crm.send_*"]',
        '[tokenize.patterns]',
        'EMPLOYEE_ID = "E-\\\\d{6}"',
        '',
      ].join('\n'),
    );
    const policy = loadPolicyFile(path);
    expect(decide(policy, 'filesystem', 'read_file', READ).action).toBe('allow');
    expect(decide(policy, 'filesystem', 'write_file', WRITE).action).toBe('ask');
    expect(decide(policy, 'memory', 'read_graph', READ).action).toBe('deny');
    expect(policy.withoutElicitation).toBe('allow');
    expect(policy.budget.toolCalls).toBe(50);
    expect(policy.tokenize?.restoreTo.map((glob) => glob.source)).toEqual(['mail', 'crm.send_*']);
    expect(policy.tokenize?.tokenizer.vault('abcdef').tokenizeText('a@b.io E-123456')).toBe(
      '[EMAIL_1:abcdef] [EMPLOYEE_ID_1:abcdef]',
    );
    // A server gets real values for every tool; a server.tool glob for the tools it names only.
    const tokenize = policy.tokenize as NonNullable<typeof policy.tokenize>;
    expect(restoresTo(tokenize, 'mail', 'anything')).toBe(true);
    expect(restoresTo(tokenize, 'crm', 'send_email')).toBe(true);
    expect(restoresTo(tokenize, 'crm', 'send-email')).toBe(true);
    expect(restoresTo(tokenize, 'crm', 'search_contacts')).toBe(false);
    expect(restoresTo(tokenize, 'crm2', 'send_email')).toBe(false);
  });

  it.each([
    [
      'p.json',
      '{\n  "default": "allow",\n  "servers": {\n    "fs": {\n      "dney": ["x"]\n    }\n  }\n}',
      /p\.json:5: policy rule servers\.fs\.dney: unknown key/,
    ],
    [
      'p.json',
      '{\n  "servers": {\n    "fs": { "deny": ["ok", 7] }\n  }\n}',
      /p\.json:3: policy rule servers\.fs\.deny\[1\]: expected a non-empty name/,
    ],
    [
      'p.json',
      '{\n  "default": "maybe"\n}',
      /p\.json:2: policy rule default: expected "allow", "ask" or "deny", got "maybe"/,
    ],
    ['p.json', '{\n  "default": "allow",\n  oops\n}', /p\.json:3: not valid JSON/],
    [
      'p.toml',
      'default = "allow"\n[budget]\ntool_calls = -1\n',
      /p\.toml:3: policy rule budget\.tool_calls: expected a whole number/,
    ],
    [
      'p.toml',
      'default = "allow"\nread_only = "yes"\n',
      /p\.toml:2: policy rule read_only: expected true or false/,
    ],
    ['p.toml', 'x = \n', /p\.toml:1: not valid TOML/],
    [
      'p.toml',
      '[tokenize]\ndetect = ["email"]\n[tokenize.patterns]\nBAD = "(a+)\\\\1"\n',
      /p\.toml:4: policy rule tokenize\.patterns\.BAD: backreferences are not supported/,
    ],
    [
      'p.toml',
      '[tokenize]\ndetect = ["ssn"]\n',
      /p\.toml:2: policy rule tokenize\.detect\[0\]: unknown detector "ssn"/,
    ],
    [
      'p.toml',
      '[tokenize.patterns]\nlower = "x+"\n',
      /policy rule tokenize\.patterns\.lower: a pattern name is its placeholder prefix/,
    ],
    [
      'p.toml',
      '[tokenize]\ndetect = ["email"]\nrestore_to = ["crm", "crm."]\n',
      /p\.toml:3: policy rule tokenize\.restore_to\[1\]: expected a server \("crm"\) or a server's tool/,
    ],
    [
      'p.toml',
      'default = "allow"\n[budget]\nrefused_calls = 0\n',
      /p\.toml:3: policy rule budget\.refused_calls: expected a whole number ≥ 1/,
    ],
    [
      'p.toml',
      '[servers.fs]\nrate_limit = { calls = 0 }\n',
      /p\.toml:2: policy rule servers\.fs\.rate_limit\.calls: expected a whole number ≥ 1, got 0$/,
    ],
    [
      'p.toml',
      '[budget]\nresult_bytes = "10 parsecs"\n',
      /p\.toml:2: policy rule budget\.result_bytes: expected a number of bytes or a size such as "10m", got "10 parsecs"$/,
    ],
    [
      'p.json',
      '{\n  "approval": { "without_elicitation": "sometimes" }\n}',
      /p\.json:2: policy rule approval\.without_elicitation: expected "deny" or "allow", got "sometimes"$/,
    ],
    [
      'p.json',
      '{\n  "servers": {\n    "fs": { "rate_limit": { "calls": 1, "per_second": 2 } }\n  }\n}',
      /p\.json:3: policy rule servers\.fs\.rate_limit\.per_second: unknown key; expected one of calls, per_seconds$/,
    ],
    [
      // Two mistakes: the one written first is named, whatever order the checks take.
      'p.json',
      '{\n  "servers": { "fs": { "dney": ["x"] } },\n  "default": "maybe"\n}',
      /p\.json:2: policy rule servers\.fs\.dney: unknown key/,
    ],
    [
      // Each pattern fits alone; with the built-in one of the same kind the automaton is too large.
      'p.json',
      JSON.stringify(
        { tokenize: { detect: ['email'], patterns: { EMAIL: '(?:[a-z]{1000}){19}[a-z]{995}' } } },
        null,
        2,
      ),
      /p\.json:2: policy rule tokenize: the patterns need more than 20000 automaton states; simplify them$/,
    ],
  ])('%s with a mistake names the file, line and rule', (name, text, message) => {
    const path = file(name, text);
    expect(() => loadPolicyFile(path)).toThrow(PolicyFileError);
    expect(() => loadPolicyFile(path)).toThrow(message);
  });

  it('names a missing file', () => {
    expect(() => loadPolicyFile('/nonexistent/policy.toml')).toThrow(
      /\/nonexistent\/policy\.toml: cannot read/,
    );
  });

  it('names the config file, line and rule of a bad entry block', () => {
    const path = file(
      'claude.json',
      '{\n  "mcpServers": {\n    "fs": {\n      "command": "x",\n      "policy": { "read_only": 1 }\n    }\n  }\n}\n',
    );
    expect(() =>
      compilePolicy({}, 'p.json', undefined, [{ server: 'fs', source: path, value: { read_only: 1 } }]),
    ).toThrow(/claude\.json:5: policy rule fs\.policy\.read_only: expected true or false/);
  });

  it('lineOf follows keys in order', () => {
    const text = 'a = 1\n[servers.fs]\ndeny = ["x"]\n[servers.mem]\ndeny = ["y"]\n';
    expect(lineOf(text, ['servers', 'mem', 'deny', 0])).toBe(5);
    expect(lineOf(text, ['servers', 'fs', 'deny'])).toBe(3);
    expect(lineOf(text, ['nothing'])).toBeUndefined();
  });
});
