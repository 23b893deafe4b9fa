/** Hostile cases: Abusing the host operations a program may call (discovery, skills, values, outputs). */

import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { GRAB_CHANNEL, type HostileCase, python } from './kit.js';

/** `call(op, args)`: a host operation sent as a raw `call` frame; prints `code: message` on refusal. */
const HOST_CALL = python`
${GRAB_CHANNEL}
async def call(op, args):
    try:
        return await channel.request({"type": "call", "op": op, "args": args})
    except Exception as error:
        return "%s: %s" % (getattr(error, "code", type(error).__name__), error)
`;

/** Saves made by a case; the store must be empty of them afterwards. */
const SKILL_NAMES_RE = /^(hostile_|os$|print$)/;

export const HOST_OPS: HostileCase[] = [
  {
    name: 'refuses a search query over the cap, naming the limit',
    category: 'host-ops',
    code: `${HOST_CALL}\nprint(await call("search_tool_docs", {"query": "read a file " * 30000}))\nprint(await call("search_tool_docs", {"query": "q" * 2001}))`,
    expect: {
      status: 'ok',
      stdout:
        "BAD_ARGUMENTS: search_tool_docs: 'query' is 360,000 characters; the limit is 2,000. Describe the task in a sentence or a few keywords.\nBAD_ARGUMENTS: search_tool_docs: 'query' is 2,001 characters; the limit is 2,000. Describe the task in a sentence or a few keywords.\n",
    },
  },
  {
    name: 'answers search queries of the wrong type as empty ones',
    category: 'host-ops',
    code: `${HOST_CALL}\nfor query in ({"$gt": ""}, ["read"] * 10000, 10**300, None, True):\n    answer = await call("search_tool_docs", {"query": query})\n    print(type(answer).__name__, sorted(answer) if isinstance(answer, dict) else answer)`,
    expect: {
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toEqual(Array(5).fill("dict ['hits', 'unavailable']"));
      },
    },
  },
  {
    name: 'caps a huge, negative or nonsense search limit',
    category: 'host-ops',
    code: `${HOST_CALL}\nfor limit in (10**12, -5, "NaN", 1e308, True, {"a": 1}, 2**53 + 1):\n    answer = await call("search_tool_docs", {"query": "tool", "limit": limit})\n    print(len(answer["hits"]) if isinstance(answer, dict) else answer)`,
    expect: {
      status: 'ok',
      check: (run) => {
        const counts = (run.outcome?.stdout ?? '').trimEnd().split('\n').map(Number);
        expect(counts).toHaveLength(7);
        for (const count of counts) expect(count).toBeLessThanOrEqual(50);
      },
    },
  },
  {
    name: 'refuses server names with NUL, path traversal, huge length or the wrong type',
    category: 'host-ops',
    code: `${HOST_CALL}\nfor name in ("mem\\0ory", "../../etc/passwd", "/etc/shadow", "s" * 10000, "", 42, None, ["shapes"], {"toString": 1}):\n    print(await call("describe_server", {"name": name}))`,
    expect: {
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(9);
        for (const line of lines) expect(line).toMatch(/^(UNKNOWN_SERVER|BAD_ARGUMENTS): /);
        expect(lines[3]).toBe(
          "BAD_ARGUMENTS: describe_server: 'name' is 10,000 characters; the limit is 256",
        );
      },
    },
  },
  {
    name: 'asks to describe unknown servers 2,000 times',
    category: 'host-ops',
    timeout: 60,
    code: `${HOST_CALL}\ncodes = set()\nfor i in range(2000):\n    codes.add((await call("describe_server", {"name": "ghost-%d" % i})).split(":")[0])\nprint(codes)`,
    expect: { status: 'ok', stdout: "{'UNKNOWN_SERVER'}\n" },
  },
  {
    name: 'asks to describe a real server 1,000 times at once',
    category: 'host-ops',
    timeout: 60,
    code: `${HOST_CALL}\nimport asyncio\nanswers = await asyncio.gather(*[call("describe_server", {"name": "shapes"}) for _ in range(1000)])\nprint(len(answers), {answer["name"] for answer in answers})`,
    expect: { status: 'ok', stdout: "1000 {'shapes'}\n" },
  },
  {
    name: 'sends a 7 MB argument object to a host operation',
    category: 'host-ops',
    code: `${HOST_CALL}\nanswer = await call("describe_server", {"name": "shapes", "padding": "p" * (7 * 1024 * 1024)})\nprint(answer["name"])`,
    expect: { status: 'ok', stdout: 'shapes\n' },
  },
  {
    name: 'refuses skills with bad names, bypassing the sandbox-side checks',
    category: 'host-ops',
    code: python`
${HOST_CALL}
source = lambda name: "def %s():\n    return 1\n" % name
for name in ("hostile\0x", "../hostile_up", "hostile/x", "os", "print", "mcp_hostile", "h" * 65, "ünïcode", "", "1abc", 42, None, {"toString": 1}):
    print(await call("save_skill", {"name": name, "source": source(name if isinstance(name, str) else "x")}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(13);
        for (const line of lines) expect(line).toMatch(/^INVALID_SKILL: cannot save a skill named /);
        expect(context.skillFiles().filter((name) => SKILL_NAMES_RE.test(name))).toEqual([]);
      },
    }),
  },
  {
    name: 'refuses skill sources that are oversize, hold NUL or a lone surrogate, or define another name',
    category: 'host-ops',
    code: python`
${HOST_CALL}
name = "hostile_source"
for source in ("def hostile_source():\n    return 1\n" + "#" * 70000, "def hostile_source():\n    return '\0'\n",
               "def hostile_source():\n    return '\ud800'\n", "def other():\n    return 1\n", "", 42):
    print(await call("save_skill", {"name": name, "source": source}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(6);
        for (const line of lines) expect(line).toMatch(/^INVALID_SKILL: skill 'hostile_source': /);
        expect(context.skillFiles()).not.toContain('hostile_source');
      },
    }),
  },
  {
    name: 'saves skills in a loop: stopped at 64 per run, and deletes them again',
    category: 'host-ops',
    timeout: 60,
    code: python`
${HOST_CALL}
results = []
for i in range(66):
    name = "hostile_flood_%d" % i
    answer = await call("save_skill", {"name": name, "source": "def %s():\n    return %d\n" % (name, i)})
    results.append("saved" if isinstance(answer, dict) else answer)
print(results.count("saved"), results[-1])
deleted = [await call("delete_skill", {"name": "hostile_flood_%d" % i}) for i in range(64)]
print(sum(isinstance(answer, dict) for answer in deleted))
`,
    expect: (context) => ({
      status: 'ok',
      stdout: '64 SKILL_LIMIT: a run may save at most 64 skills\n64\n',
      check: () => expect(context.skillFiles().filter((name) => name.startsWith('hostile_'))).toEqual([]),
    }),
  },
  {
    name: 'refuses to delete skills by path traversal or a bad version',
    category: 'host-ops',
    code: python`
${HOST_CALL}
for args in ({"name": "../../../etc/passwd"}, {"name": ".."}, {"name": "."}, {"name": "/"}, {"name": "a/b"},
             {"name": "x" * 65}, {"name": 42}, {"name": "hostile_none", "version": -1},
             {"name": "hostile_none", "version": 1.5}, {"name": "hostile_none", "version": 10**10},
             {"name": "hostile_none", "version": "1"}):
    print(await call("delete_skill", args))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(11);
        for (const line of lines) expect(line).toMatch(/^BAD_ARGUMENTS: /);
        expect(existsSync(context.stateDir)).toBe(true);
      },
    }),
  },
  {
    name: 'calls unknown host operations 2,000 times',
    category: 'host-ops',
    timeout: 60,
    code: `${HOST_CALL}\nanswers = {await call("op_%d" % (i % 7), {}) for i in range(2000)}\nprint(len(answers), sorted(answers)[0])`,
    expect: {
      status: 'ok',
      stdout:
        /^7 UNKNOWN_OPERATION: unknown host operation 'op_0'; the host offers attach, delete_skill, .*, search_tool_docs\n$/,
    },
  },
];
