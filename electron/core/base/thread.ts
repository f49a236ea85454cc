import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Run one job on a worker thread of its own and take its one reply: for file work that would hold the
 * event loop of the process hosting the core (the Electron main process, whose window and tray then
 * freeze; the headless worker, whose heartbeats then wait). The thread's script posts one message.
 *
 * `script` is the compiled script's URL, resolved beside the module that starts it
 * (`new URL('./x-thread.js', import.meta.url)`): tsc puts it beside that module in dist/, and the
 * worker's bundle (scripts/build-worker.mjs) makes it an entry point beside cli.js and its chunks.
 * Under tsx (tests, benches) only the .ts source is on disk, and tsx's loader does not reach a worker
 * thread (Node 20: "Unknown file extension .ts"), so the thread registers it first.
 *
 * In the packed app the scripts are kept outside app.asar (package.json build.asarUnpack) and started
 * from app.asar.unpacked: a worker thread cannot load its script from inside an ASAR (electron/electron#22446).
 *
 * An abort ends the thread (what it did so far stays done) and rejects with the signal's reason.
 */
export function runOnThread<T>(script: URL, data: unknown, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const thread = startThread(script, data);
    const onAbort = () => {
      reject(signal!.reason);
      void thread.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal?.removeEventListener('abort', onAbort);
    thread.once('message', (result: T) => {
      settle();
      resolve(result);
    });
    thread.once('error', (e) => {
      settle();
      reject(e);
    });
    thread.once('exit', (code) => {
      settle();
      reject(new Error(`${what} stopped (exit code ${code})`));
    });
  });
}

/** Where a thread's script is on disk: outside the ASAR in the packed app. */
export function threadScriptOnDisk(script: URL): URL {
  return new URL(script.href.replace('/app.asar/', '/app.asar.unpacked/'));
}

function startThread(packed: URL, workerData: unknown): Worker {
  const script = threadScriptOnDisk(packed);
  if (existsSync(fileURLToPath(script))) return new Worker(script, { workerData });
  const source = new URL(script.href.replace(/\.js$/, '.ts'));
  const boot = `const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(source.href)});`;
  return new Worker(boot, { eval: true, workerData });
}
