/**
 * Picks the sandbox runtime for MCP_BRIDGE_RUNTIME: a named one, or (auto) the first usable of
 * podman, docker and the embedded Deno + Pyodide sandbox, which needs nothing beyond `npm ci`.
 * A configured OCI runtime (MCP_BRIDGE_OCI_RUNTIME) must be usable by the chosen engine.
 */
import { BridgeError } from '../shared/errors.js';
import { imageExists, probeEngine } from './container/engine-probe.js';
import { type OciRuntimeProbe, requireOciRuntime } from './container/oci-runtime.js';
import { probeEmbedded } from './embedded/probe.js';
import type { FullPythonKind } from './types.js';

export type RuntimePreference = 'auto' | FullPythonKind;

/** The order `auto` tries: containers isolate more (see "The trust boundary" in docs/architecture.md). */
export const AUTO_ORDER: readonly FullPythonKind[] = ['podman', 'docker', 'embedded'];

export interface RuntimeProbe {
  runtime: FullPythonKind;
  usable: boolean;
  version?: string;
  /** Why the runtime cannot be used, when it cannot. */
  problem?: string;
}

export interface RuntimeSelection {
  runtime: FullPythonKind;
  version?: string;
  /** Why this runtime, in a sentence, for logs and `doctor`. */
  reason: string;
  /** Every runtime that was probed, in order. */
  probes: RuntimeProbe[];
  /** The configured OCI runtime as the chosen engine reports it (only when one is configured). */
  ociRuntime?: OciRuntimeProbe;
}

export async function probeRuntime(runtime: FullPythonKind): Promise<RuntimeProbe> {
  const probe = runtime === 'embedded' ? await probeEmbedded() : await probeEngine(runtime);
  return {
    runtime,
    usable: probe.usable,
    ...(probe.version ? { version: probe.version } : {}),
    ...(probe.problem ? { problem: probe.problem } : {}),
  };
}

const INSTALL_HINT =
  'Install podman (recommended, rootless: e.g. `sudo apt-get install podman`) or Docker, or reinstall ' +
  'codemode-bridge with its dependencies (`npm ci`) for the embedded sandbox, or set MCP_BRIDGE_RUNTIME ' +
  'to a runtime that is usable.';

export interface SelectOptions {
  /** Replaces the probe (doctor reuses probes it already made). */
  probe?: (runtime: FullPythonKind) => Promise<RuntimeProbe>;
  /**
   * The container image. Under `auto`, an engine without it is passed over: a user who never pulled
   * the image gets the embedded sandbox, not an error. A named engine reports the missing image instead.
   */
  image?: string;
  /**
   * MCP_BRIDGE_OCI_RUNTIME. When set, `auto` passes over the embedded sandbox: whoever asks for a
   * particular container runtime (gVisor, usually) must not get a weaker boundary without being told.
   * The chosen engine must be able to use it, else selection fails with what to install or unset.
   */
  ociRuntime?: string | undefined;
}

/** Probes candidates in order and stops at the first usable one. */
export async function selectRuntime(
  preference: RuntimePreference,
  options: SelectOptions = {},
): Promise<RuntimeSelection> {
  const probe = options.probe ?? probeRuntime;
  const candidates =
    preference !== 'auto'
      ? [preference]
      : options.ociRuntime
        ? AUTO_ORDER.filter((runtime) => runtime !== 'embedded')
        : AUTO_ORDER;
  const probes: RuntimeProbe[] = [];
  for (const runtime of candidates) {
    // Under auto the image is checked too; both answer in tens of ms, so they are asked together.
    const imageCheck =
      preference === 'auto' && runtime !== 'embedded' && options.image
        ? imageExists(runtime, options.image)
        : undefined;
    // Awaited below only when the engine answers; a failure is never left unhandled meanwhile.
    imageCheck?.catch(() => {});
    let result = await probe(runtime);
    if (imageCheck && result.usable) {
      if (!(await imageCheck)) {
        result = {
          runtime,
          usable: false,
          problem: `${runtime} has no image ${options.image} (pull it with: ${runtime} pull ${options.image})`,
        };
      }
    }
    probes.push(result);
    if (result.usable) {
      const ociRuntime =
        options.ociRuntime && runtime !== 'embedded'
          ? await requireOciRuntime(runtime, options.ociRuntime)
          : undefined;
      return {
        runtime,
        ...(result.version ? { version: result.version } : {}),
        reason: explainChoice(preference, probes),
        probes,
        ...(ociRuntime ? { ociRuntime } : {}),
      };
    }
  }
  const problems = probes.map((result) => `${result.runtime}: ${result.problem}`).join('; ');
  const hint = options.ociRuntime
    ? `${INSTALL_HINT} (The embedded sandbox is not considered while MCP_BRIDGE_OCI_RUNTIME is set.)`
    : INSTALL_HINT;
  throw new BridgeError('RUNTIME_UNAVAILABLE', `No usable sandbox runtime (${problems}). ${hint}`, {
    details: { preference },
  });
}

function explainChoice(preference: RuntimePreference, probes: RuntimeProbe[]): string {
  const chosen = probes.at(-1)?.runtime;
  if (preference !== 'auto') return `MCP_BRIDGE_RUNTIME=${preference}`;
  const skipped = probes.slice(0, -1).map((result) => result.problem ?? `${result.runtime} is not usable`);
  if (skipped.length === 0) return `auto: ${chosen} is the first choice and is usable`;
  return `auto: ${skipped.join(' and ')}, so ${chosen === 'embedded' ? 'the embedded sandbox' : chosen} is used`;
}
