/** Local failures of the bridge. Wire errors are the SDK's `McpError`; everything else is a `BridgeError`. */

export type BridgeErrorCode =
  | 'CONFIG_INVALID'
  | 'RUNTIME_UNAVAILABLE'
  | 'IMAGE_MISSING'
  | 'SANDBOX_START_FAILED'
  | 'UNKNOWN_SERVER'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'TOOL_ERROR'
  | 'SHUTTING_DOWN';

export class BridgeError extends Error {
  override readonly name = 'BridgeError';
  readonly code: BridgeErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: BridgeErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** The message of anything thrown, for logs and user-facing text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
