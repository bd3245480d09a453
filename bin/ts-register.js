// Registers bin/ts-hooks.js (sluice's TypeScript loader) for this process and its worker threads.
import { register } from 'node:module';
register('./ts-hooks.js', import.meta.url);
process.setSourceMapsEnabled(true);
