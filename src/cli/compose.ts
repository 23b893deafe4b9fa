/** Builds the bridge's parts from settings and owns their shutdown; shared by `serve`, `run` and `servers`. */

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Engine, type TypeScriptRuns } from '../engine/engine.js';
import { discoveryOperations } from '../engine/host-operations/discovery.js';
import { skillOperations } from '../engine/host-operations/skills.js';
import { AuditLog } from '../engine/policy/audit-log.js';
import type { Policy } from '../engine/policy/policy.js';
import { entriesOnlyPolicy, loadPolicyFile, PolicyFileError } from '../engine/policy/policy-file.js';
import { PolicyGate } from '../engine/policy/policy-gate.js';
import { RunObservations, type RunObserver } from '../engine/run-observer.js';
import { skillsForRun } from '../engine/skills/skill-grant.js';
import { SkillNamespaces } from '../engine/skills/skill-namespaces.js';
import type { UpstreamPort } from '../engine/types.js';
import { TypeCheckService } from '../engine/typescript/check-service.js';
import { upstreamPort } from '../engine/upstream-port.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import { TypeScriptSandboxes } from '../sandbox/typescript/typescript-sandboxes.js';
import type { BridgeServerOptions } from '../server/server.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { packagePath } from '../shared/package-root.js';
import { discoverServers, shadowedServers } from '../upstream/config/discover.js';
import type { DiscoveryResult } from '../upstream/config/types.js';
import { UpstreamPool } from '../upstream/upstream-pool.js';
import { VERSION } from './context.js';
import { createSandboxes } from './sandboxes.js';
import type { Settings } from './settings.js';

const BRIDGE_MAIN = packagePath('dist', 'cli', 'main.js');
const CONNECT_TIMEOUT_MS = 30_000;

export interface Bridge {
  engine: Engine;
  sandboxes: SandboxService;
  /** TypeScript's sandboxes, when MCP_BRIDGE_LANGUAGES includes it. */
  typescript: TypeScriptSandboxes | undefined;
  upstreams: UpstreamPool;
  /** The engine's port onto `upstreams`. */
  port: UpstreamPort;
  discovery: DiscoveryResult;
  /** The policy in force (file and config-entry blocks); undefined: none, every call is allowed. */
  policy: Policy | undefined;
  /** Where the policy and the audit log meet each call; undefined when there is neither. */
  gate: PolicyGate | undefined;
  close(): Promise<void>;
}

/** What every MCP server over this bridge is built from (stdio's one, or one per HTTP session). */
export function bridgeServerOptions(bridge: Bridge, settings: Settings, logger: Logger): BridgeServerOptions {
  return {
    engine: bridge.engine,
    version: VERSION,
    outputMode: settings.outputMode,
    policy: bridge.policy !== undefined,
    languages: settings.languages,
    yieldAfterMs: settings.yieldAfterMs,
    maxOutputChars: settings.maxOutputChars,
    logger,
  };
}

/**
 * The policy file and the config entries' `policy` blocks. A mistake in either stops the bridge
 * (`CONFIG_INVALID`, served to the client by `serve`): running with part of a policy is not safe.
 */
export function loadPolicy(
  settings: Pick<Settings, 'policyPath'>,
  discovery: DiscoveryResult,
): Policy | undefined {
  const entries = discovery.servers.flatMap((server) =>
    server.policy === undefined ? [] : [{ server: server.name, source: server.source, value: server.policy }],
  );
  try {
    return settings.policyPath ? loadPolicyFile(settings.policyPath, entries) : entriesOnlyPolicy(entries);
  } catch (error) {
    if (!(error instanceof PolicyFileError)) throw error;
    const variable = settings.policyPath ? 'MCP_BRIDGE_POLICY' : 'a policy block of an MCP config entry';
    throw new BridgeError('CONFIG_INVALID', `Invalid policy (${variable}): ${error.message}`, {
      cause: error,
      details: { variable },
    });
  }
}

function openAuditLog(settings: Settings): AuditLog | undefined {
  if (!settings.auditLog) return undefined;
  try {
    return new AuditLog({
      path: settings.auditLog,
      maxBytes: settings.auditMaxBytes,
      files: settings.auditFiles,
    });
  } catch (error) {
    throw new BridgeError(
      'CONFIG_INVALID',
      `MCP_BRIDGE_AUDIT_LOG=${JSON.stringify(settings.auditLog)} cannot be opened for writing: ${errorMessage(error)}.`,
      { cause: error, details: { variable: 'MCP_BRIDGE_AUDIT_LOG' } },
    );
  }
}

/** Finds the configured upstream servers and logs what the user should know about their config files. */
export async function discover(logger: Logger): Promise<DiscoveryResult> {
  const discovery = await discoverServers({
    home: homedir(),
    cwd: process.cwd(),
    env: process.env,
    platform: process.platform,
    selfPath: BRIDGE_MAIN,
  });
  for (const warning of discovery.warnings) logger.warn(warning.message, { file: warning.source });
  for (const skipped of discovery.skipped) {
    logger.debug('skipped MCP server entry', {
      server: skipped.name,
      reason: skipped.reason,
      detail: skipped.detail,
    });
  }
  // Said at info (not debug): a server silently taken from another file than the one being edited is
  // a classic source of confusion.
  for (const { name, source, shadowed } of shadowedServers(discovery)) {
    logger.info('MCP server defined more than once; the first definition is used', {
      server: name,
      used: source,
      shadowed: shadowed.join(', '),
    });
  }
  for (const path of discovery.missing) logger.debug('no MCP config here', { path });
  logger.debug('discovered MCP servers', {
    servers: discovery.servers.map((server) => server.name).join(',') || 'none',
    files: discovery.filesRead.length,
  });
  return discovery;
}

export function createUpstreamPool(
  settings: Settings,
  discovery: DiscoveryResult,
  logger: Logger,
  version: string,
) {
  return new UpstreamPool({
    servers: discovery.servers,
    clientVersion: version,
    idleTimeoutMs: settings.idleTimeoutMs,
    callTimeoutMs: settings.callTimeoutMs,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    logger,
  });
}

/**
 * What one principal may hold of the bridge's limits: as set, else (serving a team) half of the run
 * slots and named sessions and a quarter of kept output and saved values, so two principals at their
 * limits still leave room for a third; with one principal, everything.
 */
export function principalShares(
  settings: Settings,
  team: boolean,
): { maxRuns?: number; maxSessions?: number; keptOutputChars?: number; savedBytes?: number } {
  const set = settings.perPrincipal;
  const half = (total: number) => Math.max(1, Math.ceil(total / 2));
  const quarter = (total: number) => Math.floor(total / 4);
  const shares = {
    maxRuns: set.maxRuns ?? (team ? half(settings.maxConcurrentRuns) : undefined),
    maxSessions: set.maxSessions ?? (team ? half(settings.maxSessions) : undefined),
    keptOutputChars: set.keptOutputChars ?? (team ? quarter(settings.keepOutputTotalChars) : undefined),
    savedBytes: set.savedBytes ?? (team ? quarter(settings.saveTotalBytes) : undefined),
  };
  return Object.fromEntries(Object.entries(shares).filter(([, value]) => value !== undefined));
}

/** The saved skills, under `<MCP_BRIDGE_STATE_DIR>/skills`: every principal's and the shared ones. */
export function createSkillNamespaces(settings: Pick<Settings, 'stateDir'>): SkillNamespaces {
  return new SkillNamespaces(join(settings.stateDir, 'skills'));
}

/**
 * TypeScript's sandboxes and type checker, when MCP_BRIDGE_LANGUAGES includes it. A server (no
 * `poolSize` 0) starts both at once: the checker's first check loads TypeScript and its library
 * (seconds), which the first program should not wait for.
 */
function createTypeScript(
  settings: Settings,
  logger: Logger,
  poolSize: number | undefined,
):
  | { runs: TypeScriptRuns; sandboxes: TypeScriptSandboxes; checker: TypeCheckService | undefined }
  | undefined {
  if (!settings.languages.includes('typescript')) return undefined;
  const sandboxes = new TypeScriptSandboxes({
    stateDir: settings.stateDir,
    memory: settings.memory,
    poolSize: poolSize ?? settings.poolSize,
    poolMax: poolSize === 0 ? 0 : settings.poolMax,
    logger,
  });
  const checker = settings.typecheck
    ? new TypeCheckService({
        runtimeDeclaration: readFileSync(packagePath('runtime', 'typescript', 'mcp.d.ts'), 'utf8'),
      })
    : undefined;
  if (poolSize !== 0) {
    sandboxes.warm();
    checker?.warm().catch((error) => logger.warn('the TypeScript type checker did not start', { error }));
  }
  const runs: TypeScriptRuns = {
    sandboxes,
    ...(checker ? { check: (code, grant, signal) => checker.check(code, grant, signal) } : {}),
  };
  return { runs, sandboxes, checker };
}

export async function composeBridge(
  settings: Settings,
  logger: Logger,
  options: {
    version: string;
    poolSize?: number;
    sandboxes?: SandboxService;
    /** Told about every run and tool call (telemetry, the console). */
    observer?: RunObserver;
    /** More than one principal calls (a tokens file or OAuth): per-principal shares apply by default. */
    team?: boolean;
  },
): Promise<Bridge> {
  // First: a channel that cannot work with the OCI runtime is a configuration error.
  const sandboxes = options.sandboxes ?? createSandboxes(settings, logger, options.poolSize);
  const discovery = await discover(logger);
  const policy = loadPolicy(settings, discovery);
  const audit = openAuditLog(settings);
  const upstreams = createUpstreamPool(settings, discovery, logger, options.version);
  const gate =
    policy || audit
      ? new PolicyGate({
          ...(policy ? { policy } : {}),
          ...(audit ? { audit } : {}),
          auditValues: settings.auditValues,
          auditRunLines: settings.auditRunLines,
          redactorFor: (name) => upstreams.redactorFor(name),
          logger,
        })
      : undefined;
  if (policy) logger.info('policy in force', { source: policy.source });
  const observations = options.observer ? new RunObservations(options.observer) : undefined;
  // Tool calls are observed after the policy gate: a refusal is an outcome the observer sees.
  const gated = upstreamPort(upstreams, gate);
  const port = observations ? observations.port(gated) : gated;
  const skills = createSkillNamespaces(settings);
  const typescript = createTypeScript(settings, logger, options.poolSize);
  const engine = new Engine({
    sandboxes,
    ...(typescript ? { typescript: typescript.runs } : {}),
    ...(sandboxes.instant ? { instant: sandboxes.instant } : {}),
    runtime: settings.runtime === 'monty' ? 'monty' : sandboxes.instant ? 'auto' : 'full',
    upstreams: port,
    hostOperations: [...discoveryOperations(port, skills), ...skillOperations(skills)],
    skills: { forRun: (principal) => skillsForRun(skills, principal, logger) },
    defaultTimeoutMs: settings.timeoutMs,
    maxTimeoutMs: settings.maxTimeoutMs,
    maxOutputChars: settings.maxOutputChars,
    maxConcurrentRuns: settings.maxConcurrentRuns,
    perPrincipal: principalShares(settings, options.team === true),
    // One principal has no one to share the CPU with: its sandboxes keep the weight they start with.
    cpuShares: options.team === true && settings.cpuShares === 'auto',
    sessions: {
      idleMs: settings.sessionIdleMs,
      maxSessions: settings.maxSessions,
      memory: settings.sessionMemory,
    },
    values: { maxValueBytes: settings.saveMaxBytes, maxTotalBytes: settings.saveTotalBytes },
    keptOutput: {
      maxChars: settings.keepOutputChars,
      maxTotalChars: settings.keepOutputTotalChars,
      ttlMs: settings.keepOutputMs,
    },
    memoryLimit: settings.memory,
    ...(observations ? { observer: observations.observer } : {}),
    logger,
  });
  let closing: Promise<void> | undefined;
  return {
    engine,
    sandboxes,
    typescript: typescript?.sandboxes,
    upstreams,
    port,
    discovery,
    policy,
    gate,
    close() {
      engine.close();
      closing ??= Promise.all([
        sandboxes.close(),
        upstreams.close(),
        typescript?.sandboxes.close(),
        typescript?.checker?.close(),
      ]).then(() => audit?.close());
      return closing;
    },
  };
}
