/** The hostile-program suite (hostile/cases.ts) on a container sandbox under gVisor (runsc). */
import { describeHostileSuite } from './hostile-harness.js';

describeHostileSuite('runsc');
