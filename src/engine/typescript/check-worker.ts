/**
 * The type checker's thread (check-service.ts starts it): one `ProgramChecker` for the life of the
 * bridge, answering one check at a time. A failure of TypeScript itself answers that check only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type DeclarationFile, ProgramChecker } from './program-checker.js';

export interface CheckRequest {
  id: number;
  code: string;
  grant: DeclarationFile[];
}

const port = parentPort;
if (port) {
  const checker = new ProgramChecker(
    String((workerData as { runtimeDeclaration: string }).runtimeDeclaration),
  );
  port.on('message', (request: CheckRequest) => {
    try {
      port.postMessage({ id: request.id, ok: true, result: checker.check(request.code, request.grant) });
    } catch (error) {
      port.postMessage({
        id: request.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  });
}
