/** `codemode-bridge run`: one program through the same engine as the MCP tool, for people and scripts. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { MIN_RUN_TIMEOUT_MS } from '../../engine/types.js';
import { formatOutcomeText, structuredOutcome } from '../../server/format.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { composeBridge } from '../compose.js';
import { UsageError, VERSION } from '../context.js';
import type { Settings } from '../settings.js';

export async function run(args: string[], settings: Settings, logger: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      eval: { type: 'string', short: 'e' },
      timeout: { type: 'string', short: 't' },
      server: { type: 'string', short: 's', multiple: true },
      json: { type: 'boolean' },
    },
  });
  // One program a run: a second file, or a file beside -e, would otherwise be silently ignored.
  const most = values.eval === undefined ? 1 : 0;
  if (positionals.length > most)
    throw new UsageError(
      `run takes one program: ${values.eval === undefined ? 'a file or -' : '-e CODE'}, not also ${positionals.slice(most).join(' ')}.`,
    );
  let code = values.eval;
  if (code === undefined) {
    const file = positionals[0];
    if (file === undefined)
      throw new UsageError('run needs code: `run -e "print(1)"`, `run script.py` or `run -`.');
    code = file === '-' ? await readStdin() : await readProgram(file);
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds * 1000 < MIN_RUN_TIMEOUT_MS)
      throw new UsageError(
        `--timeout ${values.timeout}: expected a number of seconds, at least ${MIN_RUN_TIMEOUT_MS / 1000}`,
      );
    timeoutMs = Math.round(seconds * 1000);
  }
  const bridge = await composeBridge(settings, logger, { version: VERSION, poolSize: 0 });
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    const outcome = await bridge.engine.run(
      {
        code,
        ...(values.server ? { servers: values.server } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      },
      { signal: controller.signal },
    );
    const text = values.json
      ? JSON.stringify(structuredOutcome(outcome), null, 2)
      : formatOutcomeText(outcome);
    process.stdout.write(`${text}\n`);
    return outcome.status === 'ok' ? 0 : 1;
  } finally {
    await bridge.close();
  }
}

async function readProgram(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(error);
    throw new UsageError(`cannot read ${file}: ${reason}. Pass a Python file, \`-\` for stdin, or -e CODE.`);
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
    });
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}
