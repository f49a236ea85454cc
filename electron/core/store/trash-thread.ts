import { parentPort, workerData } from 'node:worker_threads';
import { emptyFolder } from './trash.js';

// One folder per thread: emptyFolderOffThread starts it with the folder and takes the one reply.
parentPort!.postMessage(emptyFolder(workerData as string));
