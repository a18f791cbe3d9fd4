/**
 * The `court` process: runs the program on process.argv and exits with its code (0 ok, 1 daemon error, 2 usage).
 * SIGINT ends `events --follow` cleanly.
 */
import { run } from './program.js';

const ctl = new AbortController();
process.once('SIGINT', () => ctl.abort());
const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal: ctl.signal });
process.exitCode = code;
// stdin may hold the loop open after a confirmation prompt.
process.stdin.unref?.();
