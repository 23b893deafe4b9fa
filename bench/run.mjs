// `npm run bench`: every benchmark, each printing ratios against a baseline measured in the same run.
import { benchContainer } from './container.mjs';

const only = process.argv[2];
if (!only || only === 'container') await benchContainer();
process.exit(0);
