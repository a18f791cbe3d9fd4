#!/usr/bin/env node
// courtd's executable: loads the TypeScript sources through tsx (no build step) and runs the daemon.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/daemon/main.ts');
process.exitCode = await main(process.argv.slice(2));
