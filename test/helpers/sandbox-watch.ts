/**
 * Watching a bridge from outside, as the hostile suite does after every case: which sandboxes it
 * owns (containers through the engine's event stream, embedded workers through /proc), which of its
 * children are alive, and its own resident memory and open file descriptors. Linux only (/proc).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ContainerSupport } from './environment.js';

const OWNER_LABEL = 'codemode-bridge.owner';
/** How often the event stream may end and be restarted before the watch gives up. */
const MAX_EVENT_RESTARTS = 1000;

/** Resident memory of a process (VmRSS), in bytes; NaN when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(match?.[1] ?? Number.NaN) * 1024;
  } catch {
    return Number.NaN;
  }
}

/** How many file descriptors a process has open; NaN when it is gone. */
export function openFdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

function commandLine(pid: string | number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return []; // gone meanwhile
  }
}

/** Pids of the live processes whose parent is `parentPid`, with their command lines. */
export function childProcesses(parentPid: number): Array<{ pid: number; args: string[] }> {
  const children: Array<{ pid: number; args: string[] }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name (field 2) may hold spaces and parentheses: the fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie is dead already; its parent merely has not reaped it yet.
    if (fields[0] === 'Z' || Number(fields[1]) !== parentPid) continue;
    children.push({ pid: Number(entry), args: commandLine(entry) });
  }
  return children;
}

/** Pids of the embedded workers started by the bridge with pid `owner` (they carry `--owner=<pid>`). */
export function embeddedWorkersOf(owner: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = commandLine(entry);
    if (args.some((arg) => arg.endsWith('runtime/deno/worker.js')) && args.includes(`--owner=${owner}`)) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

/** Pids of the TypeScript sandboxes started by the bridge with pid `owner` (they carry `--owner=<pid>`). */
export function typescriptSandboxesOf(owner: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = commandLine(entry);
    if (
      args.some((arg) => arg.endsWith('runtime/typescript/sandbox.js')) &&
      args.includes(`--owner=${owner}`)
    ) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

/** The engine clients (`podman run …`) a bridge has started for its sandboxes, by container name. */
export function containerClientsOf(bridgePid: number): Array<{ pid: number; name: string }> {
  return childProcesses(bridgePid).flatMap(({ pid, args }) => {
    const name = args[args.indexOf('--name') + 1];
    return args.includes('run') && args.indexOf('--name') > 0 && name ? [{ pid, name }] : [];
  });
}

export interface WatchedContainer {
  id: string;
  name: string;
  owner: number;
}

/**
 * The containers of every bridge, kept current from `<engine> events` (create and remove), so a test
 * waits for a container's removal as an event instead of polling `ps`. Started before the bridges it
 * watches; it replays the last seconds so nothing created meanwhile is missed. The engine's event
 * stream ends when its log file rotates (podman 4.3, file logger): it is then restarted from the last
 * event seen and reconciled once with `ps`, for anything that happened in between.
 */
export class ContainerWatch {
  readonly #engine: string;
  #child: ChildProcess | undefined;
  #closed = false;
  #restarts = 0;
  #lastEventAt = Date.now() - 5000;
  readonly #live = new Map<string, WatchedContainer>();
  readonly #removed = new Map<string, WatchedContainer>();
  readonly #listeners = new Set<() => void>();
  #failure: Error | undefined;

  private constructor(engine: string) {
    this.#engine = engine;
    this.#follow();
  }

  static start(support: ContainerSupport): ContainerWatch {
    if (!support.engine) throw new Error(`no container engine: ${support.skipReason}`);
    return new ContainerWatch(support.engine);
  }

  #follow(): void {
    const since = new Date(this.#lastEventAt - 1000).toISOString();
    // Every container event: podman 4.3 matches a `label=<key>` filter without a value to nothing.
    const child = spawn(
      this.#engine,
      ['events', '--since', since, '--filter', 'type=container', '--format', '{{json .}}'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      stderr = (stderr + text).slice(-2000);
    });
    child.once('exit', (code, signal) => {
      if (this.#closed) return;
      if (++this.#restarts > MAX_EVENT_RESTARTS) {
        this.#failure = new Error(`engine events ended (${signal ?? code}) too often: ${stderr}`);
        this.#notify();
        return;
      }
      this.#reconcile();
      this.#follow();
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) =>
      this.#onEvent(line),
    );
  }

  /** Brings the live set in line with `<engine> ps` (after a gap in the event stream). */
  #reconcile(): void {
    let listed: string;
    try {
      listed = execFileSync(
        this.#engine,
        [
          'ps',
          '-a',
          '--no-trunc',
          '--filter',
          `label=${OWNER_LABEL}`,
          '--format',
          `{{.ID}}\t{{.Names}}\t{{index .Labels "${OWNER_LABEL}"}}`,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
    } catch {
      return; // the next event or restart tries again
    }
    const present = new Map<string, WatchedContainer>();
    for (const line of listed.split('\n').filter(Boolean)) {
      const [id = '', name = '', owner = ''] = line.split('\t');
      if (id && Number.isInteger(Number(owner))) present.set(id, { id, name, owner: Number(owner) });
    }
    for (const [id, container] of this.#live) {
      if (!present.has(id)) {
        this.#removed.set(id, container);
        this.#live.delete(id);
      }
    }
    for (const [id, container] of present) if (!this.#removed.has(id)) this.#live.set(id, container);
    this.#notify();
  }

  /** The containers of `owner` that exist now (created, not yet removed). */
  live(owner: number): WatchedContainer[] {
    return [...this.#live.values()].filter((container) => container.owner === owner);
  }

  /** The container whose id starts with `idPrefix` (a container's hostname is its short id). */
  find(idPrefix: string): WatchedContainer | undefined {
    for (const container of [...this.#live.values(), ...this.#removed.values()]) {
      if (container.id.startsWith(idPrefix)) return container;
    }
    return undefined;
  }

  isRemoved(idPrefix: string): boolean {
    return [...this.#removed.keys()].some((id) => id.startsWith(idPrefix));
  }

  /** Resolves true once `condition` holds, re-checked on every event and every `intervalMs`. */
  async until(condition: () => boolean, timeoutMs: number, intervalMs = 250): Promise<boolean> {
    if (condition()) return true;
    return new Promise((resolve, reject) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#listeners.delete(check);
        resolve(value);
      };
      const check = () => {
        if (this.#failure) {
          this.#listeners.delete(check);
          clearTimeout(timer);
          clearInterval(poll);
          reject(this.#failure);
        } else if (condition()) finish(true);
      };
      // Conditions may also read the bridge's children, which emit no engine event: checked now and then.
      const poll = setInterval(check, intervalMs);
      const timer = setTimeout(() => finish(condition()), timeoutMs);
      this.#listeners.add(check);
    });
  }

  close(): void {
    this.#closed = true;
    this.#child?.kill();
  }

  #onEvent(line: string): void {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    // podman: {ID, Name, Status, Attributes}; docker: {id, status|Action, Actor: {Attributes: {name, …}}}.
    const actor = (event.Actor as { Attributes?: Record<string, string> } | undefined)?.Attributes;
    const attributes = (event.Attributes as Record<string, string> | undefined) ?? actor ?? {};
    const id = String(event.ID ?? event.id ?? '');
    const status = String(event.Status ?? event.status ?? event.Action ?? '');
    const name = String(event.Name ?? actor?.name ?? '');
    const owner = Number(attributes[OWNER_LABEL]);
    if (!id || !Number.isInteger(owner)) return;
    const time = Date.parse(String(event.Time ?? ''));
    if (Number.isFinite(time)) this.#lastEventAt = Math.max(this.#lastEventAt, time);
    if (status === 'create') {
      this.#live.set(id, { id, name, owner });
    } else if (status === 'remove' || status === 'destroy') {
      this.#removed.set(id, this.#live.get(id) ?? { id, name, owner });
      this.#live.delete(id);
    }
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
