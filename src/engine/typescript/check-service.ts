/**
 * Type checks off the bridge's thread: a worker thread holds one `ProgramChecker`, started on the
 * first check (or `warm()`), so loading TypeScript (~9 MB of JavaScript) and parsing the standard
 * library never holds the event loop that serves every other run. Checks are answered in order.
 *
 * Verdicts are cached on this side (verdict-cache.ts): a program checked before against the same
 * declarations is answered without the worker, and a check asked again while the same one is under
 * way waits for that one (a burst of one program costs one check, not one each).
 */
import { Worker } from 'node:worker_threads';
import { abortable } from '../../shared/abort.js';
import { packagePath } from '../../shared/package-root.js';
import type { CheckRequest } from './check-worker.js';
import { type CheckResult, checkerIdentity, type DeclarationFile } from './program-checker.js';
import { VerdictCache } from './verdict-cache.js';

/** tsc's module tree (npm run build): the bundle in dist/cli/ cannot hold a worker's entry. */
const WORKER_FILE = packagePath('dist', 'engine', 'typescript', 'check-worker.js');

interface Waiting {
  resolve: (result: CheckResult) => void;
  reject: (error: Error) => void;
}

export interface CheckServiceOptions {
  /** The text of runtime/typescript/mcp.d.ts. */
  runtimeDeclaration: string;
  /** The worker's entry. Default: dist/engine/typescript/check-worker.js. */
  workerFile?: string;
  /** Verdicts kept (verdict-cache.ts); 0 checks every program afresh. */
  maxCachedVerdicts?: number;
  maxCachedVerdictBytes?: number;
}

export class TypeCheckService {
  readonly #options: CheckServiceOptions;
  #worker: Worker | undefined;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 0;
  #closed = false;
  readonly #verdicts: VerdictCache;
  /** Checks the worker is answering, by their cache key. */
  readonly #pending = new Map<string, Promise<CheckResult>>();
  #hits = 0;
  #checks = 0;

  constructor(options: CheckServiceOptions) {
    this.#options = options;
    this.#verdicts = new VerdictCache({
      checker: checkerIdentity(options.runtimeDeclaration),
      ...(options.maxCachedVerdicts === undefined ? {} : { maxEntries: options.maxCachedVerdicts }),
      ...(options.maxCachedVerdictBytes === undefined ? {} : { maxBytes: options.maxCachedVerdictBytes }),
    });
  }

  /** Verdicts held, and how many checks were answered from them or from one under way. */
  get stats(): { cached: number; cachedBytes: number; hits: number; checks: number } {
    const { entries, bytes } = this.#verdicts.stats;
    return { cached: entries, cachedBytes: bytes, hits: this.#hits, checks: this.#checks };
  }

  /** Starts the checker ahead of the first program (it loads TypeScript and the library). */
  warm(): Promise<CheckResult> {
    return this.check('export {};\n', []);
  }

  /** The program's type errors; rejects if the checker cannot answer (it failed, or was closed). */
  check(code: string, grant: readonly DeclarationFile[], signal?: AbortSignal): Promise<CheckResult> {
    if (this.#closed) return Promise.reject(new Error('the type checker is closed'));
    const key = this.#verdicts.key(code, grant);
    const cached = this.#verdicts.get(key);
    if (cached) {
      this.#hits++;
      return Promise.resolve(cached);
    }
    let pending = this.#pending.get(key);
    if (pending) {
      this.#hits++;
    } else {
      this.#checks++;
      pending = this.#ask(code, grant);
      this.#pending.set(key, pending);
      // Only an answer is kept: a checker that failed is asked again next time.
      pending
        .then(
          (result) => this.#verdicts.set(key, result),
          () => {},
        )
        .finally(() => this.#pending.delete(key));
    }
    return abortable(pending, signal);
  }

  /** One check by the worker. It is never interrupted midway: a caller that gives up stops waiting. */
  #ask(code: string, grant: readonly DeclarationFile[]): Promise<CheckResult> {
    const worker = this.#start();
    const id = ++this.#nextId;
    return new Promise<CheckResult>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      const request: CheckRequest = { id, code, grant: [...grant] };
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll(new Error('the type checker is closed'));
    await worker?.terminate();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(this.#options.workerFile ?? WORKER_FILE, {
      workerData: { runtimeDeclaration: this.#options.runtimeDeclaration },
    });
    // The checker holds no handle the bridge waits on: an idle one does not keep the process alive.
    worker.unref();
    worker.on('message', (reply: { id: number; ok: boolean; result?: CheckResult; error?: string }) => {
      const waiting = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (!waiting) return;
      if (reply.ok && reply.result) waiting.resolve(reply.result);
      else waiting.reject(new Error(`the type checker failed: ${reply.error ?? 'no answer'}`));
    });
    const lost = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(error);
    };
    worker.on('error', (error) =>
      lost(new Error(`the type checker failed: ${error.message}`, { cause: error })),
    );
    worker.on('exit', (code) => lost(new Error(`the type checker stopped (exit code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #failAll(error: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const entry of waiting) entry.reject(error);
  }
}
