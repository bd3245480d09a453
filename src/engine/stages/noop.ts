// A stage whose tasks do nothing: measures what a runner costs per task.
import { configHash } from '../../core/hash.ts';
import type { Stage } from '../plan.ts';

export const noopStage: Stage = {
  name: 'noop',
  async map() {
    return { stats: 1 };
  },
  async commit(plan, outputs, head) {
    return {
      schema: [],
      parts: [],
      rows: 0,
      parents: head ? [`${head.dataset}@${head.version}`] : [],
      operation: 'noop',
      config_hash: configHash(plan.config),
      licences: [],
      extra: { tasks: outputs.maps.size },
    };
  },
};
