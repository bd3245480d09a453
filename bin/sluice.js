#!/usr/bin/env node
// The `sluice` command: loads the TypeScript sources through our loader (bin/ts-hooks.js) and runs the CLI.
import './ts-register.js';
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
