// `npm run bench [container|upstream|embedded|discovery|performance|host-ops|policy|sessions|typescript-isolation|typescript|monty|telemetry|team]`: each benchmark prints ratios against a baseline
// measured in the same run, because these machines are noisy.
import { benchContainer } from './container.mjs';
import { benchDiscovery } from './discovery.mjs';
import { benchEmbedded } from './embedded.mjs';
import { benchHostOps } from './host-ops.mjs';
import { benchMonty } from './monty.mjs';
import { benchPerformance } from './performance.mjs';
import { benchPolicy } from './policy.mjs';
import { benchSessions } from './sessions.mjs';
import { benchTeam } from './team.mjs';
import { benchTelemetry } from './telemetry.mjs';
import { benchTypeScript } from './typescript.mjs';
import { benchTypeScriptIsolation } from './typescript-isolation.mjs';
import { benchUpstream } from './upstream.mjs';

const only = process.argv[2];
if (!only || only === 'container') await benchContainer();
if (!only || only === 'upstream') await benchUpstream();
if (!only || only === 'embedded') await benchEmbedded();
if (!only || only === 'discovery') await benchDiscovery();
if (!only || only === 'performance') await benchPerformance();
if (!only || only === 'host-ops') await benchHostOps();
if (!only || only === 'policy') await benchPolicy();
if (!only || only === 'sessions') await benchSessions();
if (!only || only === 'typescript-isolation') await benchTypeScriptIsolation();
if (!only || only === 'typescript') await benchTypeScript();
if (!only || only === 'monty') await benchMonty();
if (!only || only === 'telemetry') await benchTelemetry();
if (!only || only === 'team') await benchTeam();
process.exit(0);
