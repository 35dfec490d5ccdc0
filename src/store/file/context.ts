/** What a file store is opened with: where it lives, the environment, and the clock. */
import type { Config } from '../../lifecycle/config.ts';
import type { JobDefaults } from '../../lifecycle/jobfile/document.ts';
import { projectDir, type Home } from '../home.ts';

export interface StoreContext {
  home: Home;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  /** Told once when a change has created the store (and kept it), to say where. */
  created?: (dir: string) => void;
}

export function jobDefaults(ctx: StoreContext, config: Config): JobDefaults {
  return { now: ctx.now(), max_retries: config.max_retries, cwd: projectDir(ctx.home) };
}
