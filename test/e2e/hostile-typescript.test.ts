/** The hostile suite's TypeScript half (hostile/typescript.ts) on real Deno sandboxes, through the shared harness. */
import { describeTypeScriptHostileSuite } from './hostile-harness.js';

describeTypeScriptHostileSuite();
