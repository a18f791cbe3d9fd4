#!/usr/bin/env node
// courtd's executable: loads the TypeScript sources through tsx (no build step) and runs the daemon.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/daemon/main.ts');
// Exit with main's code once it returns (no stray handle may keep a stopped daemon alive).
process.exit(await main(process.argv.slice(2)));
