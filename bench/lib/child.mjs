// Runs `node ...argv` in a child process and resolves with the JSON of the last line it prints;
// rejects with "timed out" or the child's exit code and last stderr line.
import { execFile } from 'node:child_process';

export function runJsonChild(argv, { env = process.env, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, argv, { timeout: timeoutMs, maxBuffer: 1 << 20, env }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()));
      } catch {
        const why = err?.killed ? 'timed out' : `child exited with ${err?.code ?? 0}: ${stderr.trim().split('\n').pop() ?? ''}`;
        reject(new Error(why));
      }
    });
  });
}
