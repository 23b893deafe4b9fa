import { describe, expect, it } from 'vitest';
import { linkedLibraries } from '../../../../src/sandbox/monty/confinement.js';
import { TokenizeError, tokenize } from '../../../../src/sandbox/monty/python-tokens.js';
import { buildSeccompFilter } from '../../../../src/sandbox/monty/seccomp-filter.js';
import { checkSubset } from '../../../../src/sandbox/monty/subset.js';
import { bindArguments, renderSignature, toolSignature } from '../../../../src/sandbox/monty/tool-docs.js';

const fits = (code: string, skills: string[] = []) => checkSubset(code, { skills });
const rewritten = (code: string) => {
  const verdict = fits(code);
  if (!verdict.fits) throw new Error(`expected a fit: ${verdict.construct}: ${verdict.why}`);
  return verdict.code;
};

describe('the subset checker', () => {
  it.each([
    ['plain code', 'x = [i * i for i in range(10)]\nprint(sum(x))'],
    ['Monty modules', 'import json, re\nfrom datetime import date\nimport asyncio as aio'],
    ['awaited tools and gather', 'import asyncio\nr = await asyncio.gather(mcp_a.t(q=1), mcp_a.u())'],
    [
      'the served runtime helpers',
      'import mcp.runtime as rt\nd = await rt.describe_server("a")\nprint(rt.discovered_servers())',
    ],
    ['f-strings with nested quotes', 'd = {"k": 1}\nprint(f"{d["k"]:>5} {d!r}")'],
    ['% as modulo', 'print(7 % 3, x % 2)'],
    ['one-argument round', 'print(round(2.5))'],
    ['a method named like a missing builtin', 'print("{}".format(1))'],
    ['a skill name the program defines itself', 'def report(x): return x\nreport(1)'],
  ])('lets %s through', (_name, code) => {
    expect(fits(code, ['report']).fits).toBe(true);
  });

  it.each([
    ['a module Monty lacks', 'import csv', 'import csv'],
    ['a submodule', 'import os.path', 'import os.path'],
    ['a relative import', 'from . import x', 'from . import'],
    ['a star import', 'from json import *', 'from json import *'],
    ['saved skills by import', 'from skills import report', 'from skills import'],
    ['a saved skill by name', 'report(1)', 'report'],
    ['printf formatting', 'print("%d items" % n)', '"…" % values'],
    ['round with digits', 'round(2.675, 2)', 'round(x, ndigits)'],
    ['print to a file', 'import sys\nprint(1, file=sys.stderr)', 'print(..., file=...)'],
    ['a missing builtin', 'print(callable(len))', 'callable'],
    ['open()', 'open("/workspace/x").read()', 'open'],
    ['raw tool results', 'await mcp_a.t.raw()', '.raw(...)'],
    ['a server from mcp_servers by attribute', 'await mcp_servers["a"].t()', 'mcp_servers[name].tool'],
    [
      'a runtime helper only full Python has',
      'import mcp.runtime as rt\nawait rt.save("x", 1)',
      'mcp.runtime.save',
    ],
    ['a helper by import', 'from mcp.runtime import attach', 'from mcp.runtime import attach'],
    ['save_tool', '@save_tool\ndef f(): pass', 'save_tool'],
    ['PolicyError', 'try:\n    pass\nexcept mcp.PolicyError:\n    pass', 'mcp.PolicyError'],
    ['error attributes', 'try:\n    pass\nexcept mcp.ToolError as e:\n    print(e.code)', 'error.code'],
    [
      'describe_server without await',
      'import mcp.runtime as rt\nrt.describe_server("a")["tools"]',
      'mcp.runtime.describe_server(...) without await',
    ],
  ])('routes %s to full Python', (_name, code, construct) => {
    const verdict = fits(code, ['report']);
    expect(verdict.fits).toBe(false);
    if (!verdict.fits) expect(verdict.construct).toBe(construct);
  });

  it('names the line of what does not fit', () => {
    const verdict = fits('x = 1\n\nimport time\n');
    expect(verdict).toMatchObject({ fits: false, construct: 'import time', line: 3 });
  });

  it('rewrites mcp imports in place, keeping every line where it was', () => {
    const code = 'import mcp.runtime as rt\nfrom mcp.servers.gh import (\n    search,\n)\nx = 1\n';
    const out = rewritten(code);
    expect(out.split('\n')).toEqual([
      'rt = __codemode_mcp.runtime',
      'search = __codemode_mcp.servers.gh.search',
      '',
      '',
      'x = 1',
      '',
    ]);
  });

  it('writes RuntimeError for the exception classes of mcp', () => {
    expect(rewritten('import mcp\ntry:\n    pass\nexcept mcp.ToolError as e:\n    pass')).toContain(
      'except RuntimeError as e:',
    );
    expect(rewritten('from mcp import MCPError as E')).toBe('E = RuntimeError');
  });

  it('shows a final expression as the container runtime does', () => {
    expect(rewritten('x = 1\nx + 1')).toBe(
      'x = 1\n__codemode_value = x + 1\nif __codemode_value is not None: print(repr(__codemode_value))\n',
    );
    expect(rewritten('for i in range(3):\n    i')).toBe('for i in range(3):\n    i');
    expect(rewritten('x = 1; x')).toContain('x = 1; __codemode_value = x');
    expect(rewritten('y: int = 2')).toBe('y: int = 2');
    expect(rewritten('await f()')).toContain('__codemode_value = await f()');
  });

  it('sends a program it cannot read to full Python', () => {
    expect(fits('x = "never closed')).toMatchObject({ fits: false, construct: 'this program' });
    expect(() => tokenize('print(1')).toThrow(TokenizeError);
  });
});

describe('tool signatures on the tier, as the container runtime renders and binds them', () => {
  const tool = {
    name: 'search',
    alias: 'search',
    inputSchema: {
      type: 'object',
      properties: {
        query: { type: 'string', description: 'what' },
        limit: { type: 'integer', default: 10 },
        kind: { type: ['string', 'null'] },
        'x-extra': { type: 'string' },
      },
      required: ['query'],
    },
  };

  it('renders the signature inspect.Signature prints', () => {
    expect(renderSignature(toolSignature(tool))).toBe(
      '(query: str, *, limit: int = 10, kind: Optional[str] = None, **arguments)',
    );
  });

  it('binds positional and keyword arguments, with the container runtime errors', () => {
    const signature = toolSignature(tool);
    expect(bindArguments(signature, ['q'], { limit: 3, 'x-extra': 'e' })).toEqual({
      arguments: { query: 'q', limit: 3, 'x-extra': 'e' },
    });
    expect(bindArguments(signature, [], {})).toEqual({ error: "missing a required argument: 'query'" });
    expect(bindArguments(signature, ['a', 'b'], {})).toEqual({ error: 'too many positional arguments' });
    expect(
      bindArguments(toolSignature({ ...tool, inputSchema: { type: 'object', properties: { q: {} } } }), [], {
        z: 1,
      }),
    ).toEqual({
      error: "got an unexpected keyword argument 'z'",
    });
  });
});

describe('worker confinement', () => {
  it('reads the libraries ldd names', () => {
    const ldd =
      '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3b)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f3b4a523000)\n';
    expect(linkedLibraries(ldd)).toEqual(['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('builds a seccomp program whose jumps land on its returns', () => {
    const program = buildSeccompFilter([41, 56]);
    const instructions = program.length / 8;
    // load arch, check, load nr, x32 check, two compares, allow, errno, kill
    expect(instructions).toBe(9);
    for (let index = 0; index < instructions; index++) {
      const code = program.readUInt16LE(index * 8);
      if ((code & 0x07) !== 0x05) continue; // jumps only
      const target = (offset: number) => index + 1 + offset;
      expect(target(program.readUInt8(index * 8 + 2))).toBeLessThan(instructions);
      expect(target(program.readUInt8(index * 8 + 3))).toBeLessThan(instructions);
    }
    const errno = program.readUInt32LE(7 * 8 + 4);
    expect(errno).toBe(0x00050001);
  });
});

describe('divergences found by the suites, routed to full Python', () => {
  it('sends a try/except inside gathered coroutines to full Python', () => {
    const code = [
      'import asyncio',
      'async def one():',
      '    try:',
      '        return await mcp_a.t()',
      '    except mcp.ToolError:',
      '        return None',
      'await asyncio.gather(one(), one())',
    ].join('\n');
    expect(checkSubset(code, { skills: [] })).toMatchObject({
      fits: false,
      construct: 'try/except in a gathered coroutine',
    });
    expect(checkSubset(code.replace('asyncio.gather(one(), one())', 'one()'), { skills: [] }).fits).toBe(
      true,
    );
  });

  it('sends lookups guarded by except KeyError to full Python', () => {
    const code =
      'import mcp.runtime as rt\ntry:\n    await rt.query_tool_docs("a", tool="x")\nexcept KeyError:\n    pass';
    expect(checkSubset(code, { skills: [] })).toMatchObject({
      fits: false,
      construct: 'except KeyError around mcp.runtime lookups',
    });
  });
});

describe('run-time failures that are the subset, not the program', () => {
  it('tells Monty gaps from the program own errors', async () => {
    const { subsetFailure } = await import('../../../../src/sandbox/monty/subset-failures.js');
    const gap = (type: string, message: string) => subsetFailure({ type, message }) !== undefined;
    expect(gap('AttributeError', "'dict' object has no attribute 'get'")).toBe(true);
    expect(gap('AttributeError', "'list' object has no attribute 'push'")).toBe(false);
    expect(gap('AttributeError', "module 'asyncio' has no attribute 'sleep'")).toBe(true);
    expect(gap('ModuleNotFoundError', "No module named 'csv'")).toBe(true);
    expect(gap('NameError', "name 'callable' is not defined")).toBe(true);
    expect(gap('NameError', "name 'undefined_name' is not defined")).toBe(false);
    expect(gap('TypeError', "'>' not supported between instances of 'str' and 'int'")).toBe(false);
    expect(gap('NotImplementedError', 'The monty syntax parser does not yet support yield expressions')).toBe(
      true,
    );
  });
});

describe("what Monty's modules and builtin types lack, before the program runs", () => {
  it.each([
    ['import asyncio\nawait asyncio.sleep(1)', 'asyncio.sleep'],
    ['import itertools as it\nprint(list(it.combinations("ab", 2)))', 'itertools.combinations'],
    ['from json import JSONDecoder', 'from json import JSONDecoder'],
    ['d = {"a": 1}\nprint(max(d, key=d.get))', '.get as a value'],
    ['f = "x".upper\nprint(f())', '.upper as a value'],
    ['import sys\nsys.stdout.write("x")', 'sys.stdout'],
    ['import sys\nprint(sys.platform)', 'sys.platform'],
    [
      'try:\n    await mcp_x.t()\nexcept Exception as e:\n    print(type(e).__name__)',
      '__name__ of an error',
    ],
  ])('refuses %j', (code, construct) => {
    expect(checkSubset(code, { skills: [] })).toMatchObject({ fits: false, construct });
  });

  it.each([
    'import asyncio\nawait asyncio.gather()',
    'class Cart:\n    def __init__(self):\n        self.items = []\n    def add(self, x):\n        self.items.append(x)',
    'd = {}\nprint(d.get("a"), list(d.items()))',
    'print(await mcp_x.get(id=1))',
  ])('lets %j through', (code) => {
    expect(checkSubset(code, { skills: [] }).fits).toBe(true);
  });
});
