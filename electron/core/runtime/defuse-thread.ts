import { parentPort, workerData } from 'node:worker_threads';
import { defuseWorkspace } from './defuse.js';

// One workspace per thread: defuseWorkspaceOffThread starts it with the folder and takes the one reply.
parentPort!.postMessage(defuseWorkspace(workerData as string));
