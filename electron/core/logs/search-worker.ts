import { parentPort, workerData } from 'node:worker_threads';
import { scanForLines, type SearchRequest } from './search-scan.js';

// One search per thread: LogFile.search starts it with the request and takes the one reply.
const { path, bytes, query, limit } = workerData as SearchRequest;
parentPort!.postMessage(scanForLines(path, bytes, query, limit));
