/** The entry point of every cluster worker process. */
import { startWorker } from './worker.ts';

startWorker();
