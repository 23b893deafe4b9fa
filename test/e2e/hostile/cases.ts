/** Every hostile case (issue 9), in the order each backend runs them: one file per category. */

import { BRIDGE } from './bridge.js';
import { ESCAPE } from './escape.js';
import { HOST_OPS } from './host-ops.js';
import type { HostileCase } from './kit.js';
import { MONTY_CASES } from './monty.js';
import { NETWORK } from './network.js';
import { PROTOCOL } from './protocol.js';
import { RESOURCES } from './resources.js';
import { TRUST_BRIDGE } from './trust-bridge.js';
import { TRUST_POLICY } from './trust-policy.js';
import { TRUST_RUNTIME } from './trust-runtime.js';
import { UPSTREAM } from './upstream.js';

export const HOSTILE_CASES: readonly HostileCase[] = [
  ...ESCAPE,
  ...NETWORK,
  ...RESOURCES,
  ...PROTOCOL,
  ...HOST_OPS,
  ...UPSTREAM,
  ...BRIDGE,
  ...TRUST_BRIDGE,
  ...TRUST_POLICY,
  ...TRUST_RUNTIME,
  ...MONTY_CASES,
];
