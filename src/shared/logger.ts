/**
 * Levelled, structured log lines on stderr. stdout is the MCP channel and is never written here.
 * Format: `codemode-bridge <time> <LEVEL> <message> key=value …`, one line per event.
 */

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  isEnabled(level: LogLevel): boolean;
  /** Also sends events at `level` or more severe to `sink` (e.g. the MCP client); returns the detach. */
  addSink(level: LogLevel, sink: LogSink): () => void;
}

export type LogSink = (level: LogLevel, message: string, fields: LogFields) => void;

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text !== undefined && /^[\w.:/@+-]+$/.test(text) ? text : JSON.stringify(text ?? String(value));
}

export function formatLogLine(
  level: LogLevel,
  message: string,
  fields: LogFields = {},
  now = new Date(),
): string {
  const parts = [`codemode-bridge ${now.toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`];
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
  }
  return `${parts.join(' ')}\n`;
}

/** Set once stderr failed: its reader is gone, and nothing written there can arrive. */
let stderrFailed = false;
let stderrWatched = false;

/**
 * Writes a line to stderr until stderr fails. When the reader of stderr has gone (the client that
 * started the bridge died, leaving it a socket or pipe nobody reads), every write fails with EPIPE;
 * unhandled, each failure was an uncaught exception, which the lifecycle's handler logged to stderr
 * again, failing again: one line started a loop that kept an orphaned `serve --http` bridge at ~12% CPU
 * and grew it to 2 GB in an hour. Once stderr fails, lines are dropped (sinks such as the MCP client
 * still get theirs).
 */
function writeToStderr(line: string): void {
  if (stderrFailed) return;
  watchStderr();
  process.stderr.write(line);
}

/** Notes stderr failing, whoever wrote there (`console.error` too), instead of an uncaught exception. */
function watchStderr(): void {
  if (stderrWatched) return;
  stderrWatched = true;
  process.stderr.on('error', () => {
    stderrFailed = true;
  });
}

export function createLogger(
  minimum: LogLevel = 'info',
  write: (line: string) => void = writeToStderr,
): Logger {
  if (write === writeToStderr) watchStderr();
  const threshold = LOG_LEVELS.indexOf(minimum);
  const isEnabled = (level: LogLevel) => LOG_LEVELS.indexOf(level) <= threshold;
  const sinks = new Set<{ threshold: number; sink: LogSink }>();
  const log =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}) => {
      if (isEnabled(level)) write(formatLogLine(level, message, fields));
      for (const { threshold: sinkThreshold, sink } of sinks) {
        if (LOG_LEVELS.indexOf(level) > sinkThreshold) continue;
        try {
          sink(level, message, fields);
        } catch {
          // A sink that fails (a closed client) must never break logging.
        }
      }
    };
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
    isEnabled,
    addSink(level, sink) {
      const entry = { threshold: LOG_LEVELS.indexOf(level), sink };
      sinks.add(entry);
      return () => sinks.delete(entry);
    },
  };
}
