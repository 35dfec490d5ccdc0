/** The entry point of every cluster worker process. */
import { startWorker } from './supervisor/worker.ts';

startWorker();
