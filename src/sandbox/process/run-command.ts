import { execFile } from 'node:child_process';

export interface CommandResult {
  /** The command's exit code; 127 when it could not be started. */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Why the command could not be started at all (ENOENT, EMFILE…), when it could not. */
  spawnError?: Error & { code: string };
}

export interface RunCommandOptions {
  /** Kill the command after this long. Default 30 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs a short command to completion; resolves with its exit code instead of rejecting on failure. */
export function runCommand(
  file: string,
  args: string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: options.timeoutMs ?? 30_000,
        env: options.env,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? 127 : 0;
        // An errno code (ENOENT, EMFILE) and no kill: the command never ran; Node's own ERR_ codes are
        // about output, and a timeout kill carries `killed`.
        const spawnError =
          error && typeof error.code === 'string' && !error.code.startsWith('ERR_') && !error.killed
            ? (error as Error & { code: string })
            : undefined;
        resolve({
          exitCode: code,
          stdout,
          stderr: stderr || (error && !stdout ? error.message : stderr),
          ...(spawnError ? { spawnError } : {}),
        });
      },
    );
  });
}

/**
 * The environment handed to helper binaries (container engines): what they need to find their
 * storage and configuration, nothing else of ours. Containers never inherit it either way.
 */
export function minimalEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const allowed = [
    'PATH',
    'HOME',
    'USER',
    'LOGNAME',
    'LANG',
    'TMPDIR',
    'XDG_RUNTIME_DIR',
    'XDG_CONFIG_HOME',
    'XDG_DATA_HOME',
    'CONTAINERS_CONF',
    'CONTAINERS_STORAGE_CONF',
    'CONTAINER_HOST',
    'CONTAINER_CONNECTION',
    'DOCKER_HOST',
    'DOCKER_CONFIG',
    'DOCKER_CONTEXT',
    'DOCKER_CERT_PATH',
    'DOCKER_TLS_VERIFY',
  ];
  const result: NodeJS.ProcessEnv = {};
  for (const key of allowed) if (env[key] !== undefined) result[key] = env[key];
  return result;
}
