#!/usr/bin/env node
// `court`, the courtd admin CLI: runs src/cli/main.ts through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
