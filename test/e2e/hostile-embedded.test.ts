/** The hostile-program suite (hostile/cases.ts) on the embedded sandbox (Pyodide in a permissionless Deno). */
import { describeHostileSuite } from './hostile-harness.js';

describeHostileSuite('embedded');
