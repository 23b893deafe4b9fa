// The run kinds of the soak (bench/soak.mjs). A simple kind is one run_python call: `program(token,
// backend)` gives its arguments and `check(outcome, {t, injected})` says why the outcome is wrong (or
// undefined); `inject` runs beside the call (a fault from outside). A scripted kind (`drive`) makes
// several calls through a `Script`, each checked as it returns, and may depend on what earlier runs
// left (saved values, skills), which the soak's state (bench/soak-state.mjs) knows exactly.
import { blobDigest, markOf } from './soak-state.mjs';

export const CALL_TIMEOUT_S = 2;
export const SHORT_TIMEOUT_S = 2;
const FLOOD_CHUNKS = 50;
const FLOOD_CHUNK_CHARS = 100_000;
/** Saved-value names: runs on one name take turns, so what it holds is known. */
export const VALUE_SLOTS = ['soak-v0', 'soak-v1', 'soak-v2', 'soak-v3'];
/** Skill names: runs on one name take turns likewise. */
export const SKILL_NAMES = ['soak_skill_0', 'soak_skill_1', 'soak_skill_2'];
/** Sizes of saved values' blobs and how often each is drawn: empty to three slices (3 MiB each). */
const VALUE_SIZES = [
  [0, 2],
  [100, 4],
  [10_000, 4],
  [300_000, 3],
  [3_500_000, 2],
  [7_000_000, 1],
];
/** MCP_BRIDGE_SAVE_MAX_SIZE and _TOTAL_SIZE for the soak: room for every slot twice over (a value
 * being replaced counts until its replacement is complete), plus one partial upload per slot. */
export const SAVE_MAX_BYTES = 8 * 1048576;
export const SAVE_TOTAL_BYTES = 64 * 1048576;
/** The first slice of a three-slice value, sent alone: the upload a timeout or a kill abandons. */
const PARTIAL = { size: 7_000_000, parts: 3, slice: 3 * 1048576 };
const OVERSIZE_BYTES = 9_000_000;
/** The deadline of a run that times out holding a partial save. */
const ABANDON_TIMEOUT_S = 10;
/**
 * The deadline of a run whose approval prompt is never answered. It runs from the call, so it must
 * leave room for a sandbox started cold: at 10 s, one run of the warm-up (six containers starting at
 * once on a loaded 2-core machine) timed out before its program reached the call.
 */
export const APPROVAL_TIMEOUT_S = 20;
/** Attempts of an unanswered prompt's run whose deadline fell before its program reached the call. */
const DEADLINE_ATTEMPTS = 3;
const FULL = ['podman', 'embedded'];
const ALL = ['podman', 'embedded', 'monty'];

const lines = (...parts) => parts.join('\n');
export const py = (value) => JSON.stringify(value);
const isPrefixOf = (text, full) => full.startsWith(text);

/** The first field of `expected` that `outcome` does not match, described; undefined when all match. */
export function expectFields(outcome, expected) {
  for (const [key, value] of Object.entries(expected)) {
    if (outcome[key] !== value)
      return `${key} ${py(outcome[key])?.slice(0, 200)}, expected ${py(value).slice(0, 200)}`;
  }
  return undefined;
}

/** The session report of an outcome against the expected one (fields not given are not compared). */
function expectSession(outcome, expected) {
  const session = outcome.session ?? {};
  for (const [key, value] of Object.entries(expected)) {
    const matches = value instanceof RegExp ? value.test(session[key] ?? '') : session[key] === value;
    if (!matches) return `session.${key} ${py(session[key])?.slice(0, 200)}, expected ${String(value)}`;
  }
  return undefined;
}

/** A step of a scripted kind failed: the script stops, and the run counts as lost with this reason. */
export class StepFailure extends Error {}

/**
 * The calls of one scripted run: `step` makes a call and checks it at once (fields to match, or a
 * function giving the reason it is wrong), throwing `StepFailure` when it is wrong.
 */
export class Script {
  calls = [];
  #context;

  constructor(context) {
    this.#context = context;
  }

  async step(label, args, expected, options = {}) {
    const call = await this.#context.call(args, options);
    this.calls.push(call);
    const why =
      call.failure ??
      (typeof expected === 'function' ? expected(call.outcome) : expectFields(call.outcome, expected));
    if (why) throw new StepFailure(`${label}: ${why}`);
    return call.outcome;
  }

  /** A call whose outcome is not checked (clean-up after a failed step). */
  async quietly(args) {
    try {
      this.calls.push(await this.#context.call(args));
    } catch {
      // the failure that stopped the script is what is reported
    }
  }
}

const weightOf = (kind, backend) => {
  if (!(kind.backends ?? ALL).includes(backend)) return 0;
  return typeof kind.weight === 'function' ? kind.weight(backend) : kind.weight;
};

/** How a program reports an `mcp.ToolError`: with its code in full Python, its message alone on Monty. */
const reportError = (t, backend) =>
  backend === 'monty' ? `print(${py(t)}, error)` : `print(${py(t)}, error.code, error)`;

/** The program of a run that announces its sandbox to the soak, which then kills it from outside. */
function announceAndWait(t, backend) {
  if (backend === 'monty') {
    // A Monty program cannot name its worker: it spins, and the soak kills the one busy worker.
    return lines(`await mcp_soak.announce(token=${py(t)}, host="monty")`, 'while True:', '    pass');
  }
  return lines(
    'import asyncio',
    backend === 'embedded' ? 'import js' : 'import socket',
    `await mcp_soak.announce(token=${py(t)}, host=${backend === 'embedded' ? 'str(js.Deno.pid)' : 'socket.gethostname()'})`,
    'while True:',
    '    await asyncio.sleep(0.05)',
  );
}

// ---- saved values ----------------------------------------------------------------------------------

/** The value a run saves: its mark and a blob of `size` bytes made of it. */
const valueExpression = (mark, size) =>
  `{"by": ${py(mark)}, "blob": (${py(mark)}.encode() * ${Math.floor(size / mark.length) + 1})[:${size}]}`;

/** A program's lines that load `slot` and list it, checked by `expectLoaded`. */
const loadLines = (t, slot) => [
  'import hashlib, mcp',
  'import mcp.runtime as rt',
  'try:',
  `    value = await rt.load(${py(slot)})`,
  `    print(${py(t)}, value["by"], len(value["blob"]), hashlib.sha256(value["blob"]).hexdigest()[:16])`,
  'except mcp.ToolError as error:',
  `    print(${py(t)}, error.code)`,
  'listed = await rt.list_saved()',
  `print(${py(t)}, [[v["name"], v["bytes"]] for v in listed if v["name"] == ${py(slot)}])`,
  `print(${py(t)}, sorted({v["name"] for v in listed} - set(${py(VALUE_SLOTS)})))`,
];

/** What `loadLines` prints when `slot` holds `saved` (or nothing). */
function loadedText(t, slot, saved) {
  return lines(
    saved ? `${t} ${saved.mark} ${saved.size} ${blobDigest(saved.mark, saved.size)}` : `${t} NOT_FOUND`,
    saved ? `${t} [['${slot}', ${saved.bytes}]]` : `${t} []`,
    `${t} []`,
    '',
  );
}

const pickSlot = (plan) => VALUE_SLOTS[Math.floor(plan.r[0] * VALUE_SLOTS.length)];

function pickSize(r) {
  const total = VALUE_SIZES.reduce((sum, [, weight]) => sum + weight, 0);
  let pick = r * total;
  for (const [size, weight] of VALUE_SIZES) {
    pick -= weight;
    if (pick < 0) return size;
  }
  return VALUE_SIZES[0][0];
}

async function saveValue(plan, { values, turns }, script) {
  const { token: t } = plan;
  const slot = pickSlot(plan);
  const size = pickSize(plan.r[1]);
  const mark = markOf(t, 'sv');
  await turns.run(`value:${slot}`, async () => {
    let bytes;
    await script.step(
      'save',
      {
        code: lines(
          'import pickle',
          'import mcp.runtime as rt',
          `value = ${valueExpression(mark, size)}`,
          `saved = await rt.save(${py(slot)}, value)`,
          `print(${py(t)}, saved["name"], saved["bytes"], saved["bytes"] == len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))`,
        ),
      },
      (o) => {
        const match = new RegExp(`^${t} ${slot} (\\d+) True\\n$`).exec(o.stdout);
        if (!match || Number(match[1]) <= size)
          return expectFields(o, { status: 'ok', stdout: `${t} ${slot} <bytes> True\n` });
        bytes = Number(match[1]);
        return undefined;
      },
    );
    values.saved(slot, { mark, size, bytes });
    await script.step(
      'load what was saved',
      { code: lines(...loadLines(t, slot)) },
      {
        status: 'ok',
        stdout: loadedText(t, slot, values.get(slot)),
      },
    );
  });
}

async function loadValue(plan, { values, turns }, script) {
  const { token: t } = plan;
  const slot = pickSlot(plan);
  await turns.run(`value:${slot}`, () =>
    script.step(
      'load',
      { code: lines(...loadLines(t, slot)) },
      {
        status: 'ok',
        stdout: loadedText(t, slot, values.get(slot)),
      },
    ),
  );
}

async function deleteValue(plan, { values, turns }, script) {
  const { token: t } = plan;
  const slot = pickSlot(plan);
  await turns.run(`value:${slot}`, async () => {
    const had = values.get(slot) !== undefined;
    await script.step(
      'delete',
      {
        code: lines(
          'import mcp.runtime as rt',
          `print(${py(t)}, await rt.delete_saved(${py(slot)}))`,
          ...loadLines(t, slot),
        ),
      },
      { status: 'ok', stdout: `${t} ${had ? 'True' : 'False'}\n${loadedText(t, slot, undefined)}` },
    );
    values.deleted(slot);
  });
}

/**
 * A save the host never sees complete: the first slice of three sent alone (as `save` sends it), then
 * the run is timed out or its sandbox killed; or a value over MCP_BRIDGE_SAVE_MAX_SIZE, refused. The
 * slot must keep what it held, and the reservation must be freed (checked when the soak settles).
 */
async function abandonValue(plan, context, script) {
  const { token: t } = plan;
  const { backend, values, turns } = context;
  const slot = pickSlot(plan);
  const how = ['timeout', 'kill', 'oversize'][Math.floor(plan.r[1] * 3)];
  // `save` sends every slice at once; only its own call, made here, leaves a save known to be partial.
  const partial = lines(
    'import base64',
    'import mcp.runtime as rt',
    `piece = base64.b64encode(b"x" * ${PARTIAL.slice}).decode("ascii")`,
    `sent = await rt._ask("save_value", name=${py(slot)}, part=0, parts=${PARTIAL.parts}, size=${PARTIAL.size}, data=piece)`,
    `print(${py(t)}, "partial", sent["received"], flush=True)`,
  );
  await turns.run(`value:${slot}`, async () => {
    if (how === 'timeout') {
      await script.step(
        'a partial save timed out',
        // Asleep, not spinning: the deadline must leave room for a sandbox started cold, and ten
        // seconds of a spinning core would slow every run beside it.
        { code: lines(partial, 'import asyncio', 'await asyncio.sleep(3600)'), timeout: ABANDON_TIMEOUT_S },
        // What it printed is not required: the deadline runs from the call, and on a loaded machine
        // a sandbox started cold had not even begun the program 10 s later (stdout empty, seen under
        // load 45 on both sandboxes). The reservation it may hold is checked by the fill when the
        // soak settles.
        (o) =>
          expectFields(o, { status: 'timeout' }) ??
          (isPrefixOf(o.stdout, `${t} partial ${PARTIAL.slice}\n`) ? undefined : `stdout ${py(o.stdout)}`),
      );
    } else if (how === 'kill') {
      const finished = { value: false };
      const injection = context.killWhenAnnounced(t, finished);
      try {
        await script.step(
          'a partial save killed',
          { code: lines(partial, announceAndWait(t, backend)), servers: ['soak'] },
          (o) =>
            expectFields(o, { status: 'killed' }) ??
            (isPrefixOf(o.stdout, `${t} partial ${PARTIAL.slice}\n`) ? undefined : `stdout ${py(o.stdout)}`),
        );
      } finally {
        finished.value = true;
      }
      const injected = await injection;
      if (!injected.killed) throw new StepFailure(`not killed from outside: ${injected.reason}`);
    } else {
      await script.step(
        'an oversized save',
        {
          code: lines(
            'import mcp',
            'import mcp.runtime as rt',
            'try:',
            `    await rt.save(${py(slot)}, b"x" * ${OVERSIZE_BYTES})`,
            'except mcp.ToolError as error:',
            `    print(${py(t)}, error.code, "MCP_BRIDGE_SAVE_MAX_SIZE" in str(error))`,
          ),
        },
        { status: 'ok', stdout: `${t} VALUE_TOO_LARGE True\n` },
      );
    }
    await script.step(
      'the slot is as it was',
      { code: lines(...loadLines(t, slot)) },
      {
        status: 'ok',
        stdout: loadedText(t, slot, values.get(slot)),
      },
    );
  });
}

// ---- skills ----------------------------------------------------------------------------------------

const pickSkill = (plan) => SKILL_NAMES[Math.floor(plan.r[0] * SKILL_NAMES.length)];

/** A program that saves `name` as a skill returning `mark`, and prints the version the host now has. */
const saveSkillCode = (t, name, mark) =>
  lines(
    'import mcp.runtime as rt',
    `def ${name}():`,
    `    return ${py(mark)}`,
    `save_tool(${name})`,
    `print(${py(t)}, [s["version"] for s in await rt.list_skills() if s["name"] == ${py(name)}])`,
  );

async function saveSkillStep(t, name, skills, script) {
  const mark = markOf(t, 'sk');
  const version = (skills.get(name)?.version ?? 0) + 1;
  await script.step(
    'save_tool',
    { code: saveSkillCode(t, name, mark) },
    {
      status: 'ok',
      stdout: `${t} [${version}]\n`,
    },
  );
  skills.saved(name, mark);
  return mark;
}

async function saveSkill(plan, { skills, turns }, script) {
  const name = pickSkill(plan);
  await turns.run(`skill:${name}`, () => saveSkillStep(plan.token, name, skills, script));
}

/** A fresh run uses the skill by name and by import: the newest version, or neither when there is none. */
async function useSkill(plan, { skills, turns }, script) {
  const { token: t } = plan;
  const name = pickSkill(plan);
  await turns.run(`skill:${name}`, () => {
    const mark = skills.get(name)?.mark ?? 'none';
    return script.step(
      'use',
      {
        code: lines(
          'try:',
          `    by_name = ${name}()`,
          'except NameError:',
          '    by_name = "none"',
          'try:',
          `    from skills import ${name} as imported`,
          '    by_import = imported()',
          'except ImportError:',
          '    by_import = "none"',
          `print(${py(t)}, by_name, by_import)`,
        ),
      },
      { status: 'ok', stdout: `${t} ${mark} ${mark}\n` },
    );
  });
}

async function deleteSkill(plan, { skills, turns }, script) {
  const { token: t } = plan;
  const name = pickSkill(plan);
  await turns.run(`skill:${name}`, async () => {
    const versions = skills.versionsOf(name);
    await script.step(
      'delete_skill',
      {
        code: lines(
          'import mcp',
          'try:',
          `    print(${py(t)}, (await delete_skill(${py(name)}))["deleted"])`,
          'except mcp.ToolError as error:',
          `    print(${py(t)}, error.code)`,
        ),
      },
      {
        status: 'ok',
        stdout: `${t} ${versions.length > 0 ? `[${versions.join(', ')}]` : 'UNKNOWN_SKILL'}\n`,
      },
    );
    skills.deleted(name);
  });
}

/**
 * A session and a skill of the same name: the session's own definition (or the version it first
 * received) stays through a save made elsewhere, until the session imports the skill.
 */
async function skillInSession(plan, { skills, turns }, script) {
  const { token: t } = plan;
  const name = pickSkill(plan);
  const session = `ss-${t}`;
  const own = plan.r[1] < 0.5;
  await turns.run(`skill:${name}`, async () => {
    try {
      const before = skills.get(name)?.mark;
      await script.step(
        own ? 'the session defines the name' : 'the session uses the skill',
        {
          session,
          code: own
            ? lines(`def ${name}():`, '    return "own"', `print(${py(t)}, ${name}())`)
            : lines(
                'try:',
                `    seen = ${name}()`,
                'except NameError:',
                '    seen = "none"',
                `print(${py(t)}, seen)`,
              ),
        },
        (o) =>
          expectFields(o, { status: 'ok', stdout: `${t} ${own ? 'own' : (before ?? 'none')}\n` }) ??
          expectSession(o, { name: session, state: 'new', runs: 1 }),
      );
      const mark = await saveSkillStep(t, name, skills, script);
      const kept = own ? 'own' : (before ?? mark);
      await script.step(
        'the session keeps its own until it imports',
        {
          session,
          code: lines(
            `print(${py(t)}, ${name}())`,
            `from skills import ${name}`,
            `print(${py(t)}, ${name}())`,
          ),
        },
        (o) =>
          expectFields(o, { status: 'ok', stdout: `${t} ${kept}\n${t} ${mark}\n`, stderr: '' }) ??
          expectSession(o, { name: session, state: 'resumed', runs: 2 }),
      );
      await script.step('reset', { code: resetCode(t, session) }, { status: 'ok', stdout: `${t} True\n` });
    } catch (error) {
      await script.quietly({ code: resetCode(t, session) });
      throw error;
    }
  });
}

// ---- sessions --------------------------------------------------------------------------------------

const resetCode = (t, session) =>
  lines('import mcp.runtime as rt', `print(${py(t)}, await rt.reset_session(${py(session)}))`);

/** A session's first call: a global and a file in /workspace. */
const setState = (t) =>
  lines(
    `x = ${py(t)}`,
    `with open(${py(`/workspace/${t}.txt`)}, "w") as file:`,
    `    file.write(${py(t)})`,
    `print(x, "set")`,
  );

/** What a session still has: the global, and the file. */
const stateCheck = (t) =>
  lines('import os', `print(${py(t)}, "x" in globals(), os.path.exists(${py(`/workspace/${t}.txt`)}))`);

/**
 * A named session: state carried between calls, then ended one of three ways (reset from another
 * call, a run timed out in it, its sandbox killed from outside); the next call says the state was
 * lost and why, and has none of it.
 */
function sessionScenario(how) {
  return async (plan, context, script) => {
    const { token: t } = plan;
    const { backend } = context;
    const session = `s-${t}`;
    try {
      await script.step(
        'first call',
        { session, code: setState(t) },
        (o) =>
          expectFields(o, { status: 'ok', stdout: `${t} set\n` }) ??
          expectSession(o, { name: session, state: 'new', runs: 1 }),
      );
      await script.step(
        'state carried',
        {
          session,
          code: lines(`with open(${py(`/workspace/${t}.txt`)}) as file:`, '    print(x, file.read())'),
        },
        (o) =>
          expectFields(o, { status: 'ok', stdout: `${t} ${t}\n` }) ??
          expectSession(o, { name: session, state: 'resumed', runs: 2 }),
      );
      let lost;
      if (how === 'reset') {
        await script.step(
          'listed, then reset from another call',
          {
            code: lines(
              'import mcp.runtime as rt',
              `names = [s["name"] for s in await rt.list_sessions() if s["name"] == ${py(session)}]`,
              `print(${py(t)}, names, await rt.reset_session(${py(session)}))`,
            ),
          },
          { status: 'ok', stdout: `${t} ['${session}'] True\n` },
        );
        lost = 'it was reset';
      } else if (how === 'timeout') {
        const ended = await script.step(
          'a run times out in it',
          { session, code: lines(`print(${py(t)})`, 'while True:', '    pass'), timeout: SHORT_TIMEOUT_S },
          (o) =>
            expectFields(o, { status: 'timeout' }) ??
            (isPrefixOf(o.stdout, `${t}\n`) ? undefined : `stdout ${py(o.stdout)}`) ??
            expectSession(o, {
              state: 'resumed',
              runs: 3,
              ended: new RegExp(`^the previous run ended: timeout: Timed out after ${SHORT_TIMEOUT_S} s`),
            }),
        );
        lost = ended.session.ended;
      } else {
        const finished = { value: false };
        const injection = context.killWhenAnnounced(t, finished);
        let ended;
        try {
          ended = await script.step(
            'its sandbox is killed mid-run',
            { session, code: lines(`print(${py(t)})`, announceAndWait(t, backend)), servers: ['soak'] },
            (o) =>
              expectFields(o, { status: 'killed' }) ??
              expectSession(o, { state: 'resumed', runs: 3, ended: /^the previous run ended: killed: / }),
          );
        } finally {
          finished.value = true;
        }
        const injected = await injection;
        if (!injected.killed) throw new StepFailure(`not killed from outside: ${injected.reason}`);
        lost = ended.session.ended;
      }
      await script.step(
        'the next call starts afresh and says why',
        { session, code: stateCheck(t) },
        (o) =>
          expectFields(o, { status: 'ok', stdout: `${t} False False\n` }) ??
          expectSession(o, { name: session, state: 'restarted', runs: 1, lost }),
      );
      await script.step('reset', { code: resetCode(t, session) }, { status: 'ok', stdout: `${t} True\n` });
    } catch (error) {
      await script.quietly({ code: resetCode(t, session) });
      throw error;
    }
  };
}

// ---- approvals -------------------------------------------------------------------------------------

/**
 * A call an `ask` rule matches (`soak.approve`, which records each call it receives): accepted once,
 * accepted for the run (three calls, one prompt), declined or dismissed, or never answered while the
 * run ends (its deadline, or the client cancelling it). The prompts the client got, the calls the
 * upstream received, and every prompt withdrawn when its run ended are checked.
 */
function approval(answer) {
  return async (plan, context, script) => {
    const { token: t } = plan;
    const { backend, desk } = context;
    const calls = answer === 'accept-run' ? 3 : 1;
    const refusal = answer === 'decline' && plan.r[0] < 0.5 ? 'cancel' : answer;
    const cancelRun = answer === 'hold' && plan.r[0] < 0.5;
    const controller = new AbortController();
    const entry = desk.expect(t, refusal, cancelRun ? () => controller.abort() : undefined);
    /** The approval-needing call, `n` a Python expression. */
    const approve = (n) => `await mcp_soak.approve(tag=${py(t)}, n=${n})`;
    try {
      if (answer === 'accept' || answer === 'accept-run') {
        await script.step(
          'approved',
          { code: lines(`for n in range(${calls}):`, `    print(${approve('str(n)')})`), servers: ['soak'] },
          {
            status: 'ok',
            stdout: Array.from({ length: calls }, (_, n) => `approved ${t} ${n}\n`).join(''),
          },
        );
      } else if (answer === 'decline') {
        const said = refusal === 'decline' ? 'declined it' : 'dismissed the request';
        await script.step(
          refusal,
          {
            code: lines(
              'import mcp',
              'try:',
              `    print(${approve('"0"')})`,
              `except ${backend === 'monty' ? 'mcp.ToolError' : 'mcp.PolicyError'} as error:`,
              `    ${reportError(t, backend)}`,
            ),
            servers: ['soak'],
          },
          (o) =>
            expectFields(o, { status: 'ok' }) ??
            (o.stdout.startsWith(
              `${t} ${backend === 'monty' ? '' : 'POLICY_DECLINED '}soak.approve needs the user's approval, and the user ${said}`,
            )
              ? undefined
              : `stdout ${py(o.stdout)}`),
        );
      } else if (cancelRun) {
        const call = await context.call(
          { code: lines(approve('"0"'), `print(${py(t)}, "answered")`), servers: ['soak'] },
          { signal: controller.signal },
        );
        script.calls.push(call);
        if (!/cancel|abort/i.test(call.failure ?? ''))
          throw new StepFailure(
            `the run cancelled while its prompt waited: ${call.failure ?? `status ${call.outcome?.status}`}`,
          );
      } else {
        // The deadline runs from the call, so on a loaded machine a sandbox started cold (or the first
        // connection to the soak upstream) can use all of it before the program reaches the call: then
        // no prompt was due (the first soak of the run store counted one such run as a lost prompt).
        // The program says when it is about to ask, after a call that has connected the upstream; an
        // attempt that did not get there is made again. One that got there must have prompted once.
        const asking = `${t} asking\n`;
        let reached = false;
        for (let attempt = 1; !reached; attempt++) {
          if (attempt > DEADLINE_ATTEMPTS)
            throw new StepFailure(
              `the program reached its approval call within ${APPROVAL_TIMEOUT_S} s in none of ${DEADLINE_ATTEMPTS} attempts`,
            );
          const outcome = await script.step(
            'the deadline ends the wait',
            {
              code: lines(
                `await mcp_soak.echo(text=${py(t)})`,
                `print(${py(t)}, "asking")`,
                approve('"0"'),
                `print(${py(t)}, "answered")`,
              ),
              servers: ['soak'],
              timeout: APPROVAL_TIMEOUT_S,
            },
            (o) =>
              expectFields(o, { status: 'timeout' }) ??
              (o.stdout === '' || o.stdout === asking ? undefined : `stdout ${py(o.stdout)}`),
          );
          // A prompt with no marker would mean the output was lost, not that the call was not reached.
          reached = outcome.stdout === asking || entry.prompts > 0;
        }
      }
      const received = context.approvedCalls(t);
      const expectedCalls = answer.startsWith('accept')
        ? Array.from({ length: calls }, (_, n) => String(n))
        : [];
      if (entry.prompts !== 1) throw new StepFailure(`${entry.prompts} prompts, expected 1`);
      if (received.join() !== expectedCalls.join())
        throw new StepFailure(`the upstream received calls [${received}], expected [${expectedCalls}]`);
      if (answer === 'hold') {
        // The bridge withdraws the prompt (notifications/cancelled) before it answers the call.
        for (let i = 0; i < 20 && entry.withdrawn === 0; i++) await new Promise((r) => setTimeout(r, 100));
        if (entry.withdrawn !== 1) throw new StepFailure('the prompt was left open after its run ended');
      }
    } finally {
      desk.done(t);
    }
  };
}

// ---- the kinds -------------------------------------------------------------------------------------

export const KINDS = {
  ok: {
    weight: 20,
    program: (t) => ({ code: `print(${py(t)})` }),
    check: (o, { t }) => expectFields(o, { status: 'ok', stdout: `${t}\n` }),
  },
  error: {
    weight: 12,
    program: (t) => ({ code: lines(`print(${py(t)})`, `raise ValueError(${py(t)})`) }),
    check: (o, { t }) =>
      expectFields(o, { status: 'error', stdout: `${t}\n`, error: `ValueError: ${t}` }) ??
      (o.traceback?.includes(`ValueError: ${t}`) ? undefined : 'the traceback does not name the error'),
  },
  timeout: {
    weight: 6,
    program: (t) => ({ code: lines(`print(${py(t)})`, 'while True:', '    pass'), timeout: SHORT_TIMEOUT_S }),
    check: (o, { t }) =>
      expectFields(o, { status: 'timeout' }) ??
      (isPrefixOf(o.stdout, `${t}\n`) ? undefined : `stdout ${py(o.stdout.slice(0, 80))}`) ??
      (o.error?.startsWith(`Timed out after ${SHORT_TIMEOUT_S} s`) ? undefined : `error ${py(o.error)}`),
  },
  memory: {
    weight: 5,
    program: (t, backend) => ({
      // Monty has no bytearray; its heap limit is MCP_BRIDGE_MEMORY all the same.
      code: lines(
        `print(${py(t)})`,
        'x = []',
        'while True:',
        backend === 'monty' ? '    x.append("y" * 10**7)' : '    x.append(bytearray(10**7))',
      ),
    }),
    check: (o, { t }) => {
      if (o.status === 'error') {
        return (
          expectFields(o, { stdout: `${t}\n` }) ??
          (o.error?.startsWith('MemoryError') ? undefined : `error ${py(o.error)}`)
        );
      }
      return (
        expectFields(o, { status: 'killed' }) ??
        (isPrefixOf(o.stdout, `${t}\n`) ? undefined : `stdout ${py(o.stdout.slice(0, 80))}`)
      );
    },
  },
  tools: {
    weight: 18,
    program: (t) => ({
      code: lines(
        'import asyncio, json',
        'results = await asyncio.gather(',
        `    *[mcp_soak.echo(text=f"${t}-{i}") for i in range(6)],`,
        `    *[mcp_everything.echo(message=f"${t}-e{i}") for i in range(3)],`,
        ')',
        'print(json.dumps(results))',
      ),
      servers: ['soak', 'everything'],
    }),
    check: (o, { t }) => {
      const expected = [
        ...Array.from({ length: 6 }, (_, i) => `${t}-${i}`),
        ...Array.from({ length: 3 }, (_, i) => `Echo: ${t}-e${i}`),
      ];
      return expectFields(o, {
        status: 'ok',
        stdout: `${JSON.stringify(expected).replaceAll('","', '", "')}\n`,
      });
    },
  },
  flood: {
    weight: 7,
    program: (t, backend) => ({
      code: lines(
        'import sys',
        `print(${py(t)})`,
        `for _ in range(${FLOOD_CHUNKS}):`,
        // Monty has no sys.stdout; print without a newline writes the same.
        backend === 'monty'
          ? `    print("y" * ${FLOOD_CHUNK_CHARS}, end="")`
          : `    sys.stdout.write("y" * ${FLOOD_CHUNK_CHARS})`,
        'print()',
        `print(${py(t)})`,
      ),
    }),
    check: (o, { t }) =>
      expectFields(o, { status: 'ok' }) ??
      (o.truncated?.stdout > 0 ? undefined : 'stdout was not truncated') ??
      (o.stdout.startsWith(`${t}\nyyy`) && o.stdout.endsWith(`yyy\n${t}\n`)
        ? undefined
        : `stdout head/tail ${py(o.stdout.slice(0, 40))}…${py(o.stdout.slice(-40))}`) ??
      (o.stdout.length < FLOOD_CHUNKS * FLOOD_CHUNK_CHARS ? undefined : 'stdout is not capped'),
  },
  forget: {
    weight: 8,
    // Monty's asyncio has no ensure_future: a call is made when it is awaited.
    backends: FULL,
    program: (t) => ({
      code: lines(
        'import asyncio',
        'for i in range(5):',
        `    asyncio.ensure_future(mcp_soak.echo(text=f"${t}-{i}"))`,
        'asyncio.ensure_future(mcp_soak.hang())',
        'await asyncio.sleep(0)',
        `print(${py(t)})`,
      ),
      servers: ['soak'],
    }),
    check: (o, { t }) => expectFields(o, { status: 'ok', stdout: `${t}\n` }),
  },
  crash: {
    weight: 6,
    // They share one upstream process, which each of them kills.
    turn: 'crashy',
    program: (t, backend) => ({
      code: lines(
        'import mcp',
        'before = await mcp_crashy.pid()',
        'try:',
        '    await mcp_crashy.crash()',
        `    print(${py(t)}, "answered")`,
        'except mcp.ToolError as error:',
        `    ${reportError(t, backend)}`,
        'after = await mcp_crashy.pid()',
        `print(${py(t)}, before != after, await mcp_crashy.echo(text=${py(`${t}-after`)}))`,
      ),
      servers: ['crashy'],
    }),
    check: (o, { t, backend }) => {
      const [first = '', second = '', ...rest] = o.stdout.split('\n');
      const code = backend === 'monty' ? '' : 'UPSTREAM_UNAVAILABLE ';
      return (
        expectFields(o, { status: 'ok' }) ??
        (first.startsWith(`${t} ${code}MCP server 'crashy' closed the connection during crash`)
          ? undefined
          : `the crash was reported as ${py(first)}`) ??
        (second === `${t} True ${t}-after` && rest.join('') === ''
          ? undefined
          : `after the crash: ${py(second)}`)
      );
    },
  },
  hang: {
    weight: 8,
    program: (t, backend) => ({
      code: lines(
        'import mcp',
        'try:',
        '    await mcp_soak.hang()',
        `    print(${py(t)}, "answered")`,
        'except mcp.ToolError as error:',
        `    ${reportError(t, backend)}`,
        `print(await mcp_soak.echo(text=${py(`${t}-after`)}))`,
      ),
      servers: ['soak'],
    }),
    check: (o, { t, backend }) =>
      expectFields(o, {
        status: 'ok',
        stdout: `${t} ${backend === 'monty' ? '' : 'UPSTREAM_TIMEOUT '}MCP server 'soak' did not answer hang within ${CALL_TIMEOUT_S} s\n${t}-after\n`,
      }),
  },
  kill: {
    // On Monty the run must have the bridge alone, so fewer of them.
    weight: (backend) => (backend === 'monty' ? 4 : 10),
    exclusive: (backend) => backend === 'monty',
    program: (t, backend) => ({
      code: lines(`print(${py(t)})`, announceAndWait(t, backend)),
      servers: ['soak'],
    }),
    inject: true,
    check: (o, { t, injected }) =>
      (injected?.killed ? undefined : `not killed from outside: ${injected?.reason}`) ??
      expectFields(o, { status: 'killed' }) ??
      (isPrefixOf(o.stdout, `${t}\n`) ? undefined : `stdout ${py(o.stdout.slice(0, 80))}`) ??
      (o.error ? undefined : 'no error message'),
  },
  'value-save': { weight: 6, backends: FULL, drive: saveValue },
  'value-load': { weight: 6, backends: FULL, drive: loadValue },
  'value-delete': { weight: 2, backends: FULL, drive: deleteValue },
  'value-abandon': { weight: 3, backends: FULL, drive: abandonValue },
  'skill-save': { weight: 3, backends: FULL, drive: saveSkill },
  'skill-use': { weight: 4, backends: FULL, drive: useSkill },
  'skill-delete': { weight: 1, backends: FULL, drive: deleteSkill },
  'skill-session': { weight: 3, backends: FULL, drive: skillInSession },
  'session-reset': { weight: 4, backends: FULL, drive: sessionScenario('reset') },
  'session-timeout': { weight: 2, backends: FULL, drive: sessionScenario('timeout') },
  'session-kill': { weight: 2, backends: FULL, drive: sessionScenario('kill') },
  'approve-accept': { weight: 3, drive: approval('accept') },
  'approve-run': { weight: 2, drive: approval('accept-run') },
  'approve-decline': { weight: 3, drive: approval('decline') },
  'approve-unanswered': { weight: 2, drive: approval('hold') },
};

/** The kinds a backend draws from, with their weights there. */
export function kindsFor(backend) {
  return Object.entries(KINDS)
    .map(([name, kind]) => [name, kind, weightOf(kind, backend)])
    .filter(([, , weight]) => weight > 0);
}
