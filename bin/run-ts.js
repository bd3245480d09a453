#!/usr/bin/env node
// Runs one TypeScript file (benchmarks, worker processors) through our loader (bin/ts-hooks.js): `node bin/run-ts.js file.ts args…`.
import './ts-register.js';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
const file = process.argv[2];
if (!file) { console.error('usage: run-ts.js <file.ts> [args…]'); process.exit(2); }
process.argv.splice(1, 1);
await import(pathToFileURL(resolve(file)).href);
