/**
 * Type checks off the bridge's thread: a worker thread holds one `ProgramChecker`, started on the
 * first check (or `warm()`), so loading TypeScript (~9 MB of JavaScript) and parsing the standard
 * library never holds the event loop that serves every other run. Checks are answered in order.
 */
import { Worker } from 'node:worker_threads';
import { packagePath } from '../../shared/package-root.js';
import type { CheckRequest } from './check-worker.js';
import type { CheckResult, DeclarationFile } from './program-checker.js';

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
}

export class TypeCheckService {
  readonly #options: CheckServiceOptions;
  #worker: Worker | undefined;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 0;
  #closed = false;

  constructor(options: CheckServiceOptions) {
    this.#options = options;
  }

  /** Starts the checker ahead of the first program (it loads TypeScript and the library). */
  warm(): Promise<CheckResult> {
    return this.check('export {};\n', []);
  }

  /** The program's type errors; rejects if the checker cannot answer (it failed, or was closed). */
  check(code: string, grant: readonly DeclarationFile[], signal?: AbortSignal): Promise<CheckResult> {
    if (this.#closed) return Promise.reject(new Error('the type checker is closed'));
    const worker = this.#start();
    const id = ++this.#nextId;
    return new Promise<CheckResult>((resolve, reject) => {
      const onAbort = () => {
        // The worker answers anyway; its answer is dropped. A check is never interrupted midway.
        this.#waiting.delete(id);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('the check was cancelled'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.#waiting.set(id, {
        resolve: (result) => {
          done();
          resolve(result);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
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
