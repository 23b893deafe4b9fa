/** The hostile-program suite on the Monty tier (hostile/monty.ts; the full-Python cases say why they do not apply). */
import { describeHostileSuite } from './hostile-harness.js';

describeHostileSuite('monty');
