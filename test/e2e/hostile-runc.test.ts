/** The hostile-program suite (hostile/cases.ts) on a container sandbox under runc. */
import { describeHostileSuite } from './hostile-harness.js';

describeHostileSuite('runc');
