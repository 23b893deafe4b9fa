// `npm run bench [container|upstream|embedded]`: each benchmark prints ratios against a baseline
// measured in the same run, because these machines are noisy.
import { benchContainer } from './container.mjs';
import { benchUpstream } from './upstream.mjs';

const only = process.argv[2];
if (!only || only === 'container') await benchContainer();
if (!only || only === 'upstream') await benchUpstream();
process.exit(0);
