// BullMQ sandboxed processor entry: loads the TypeScript task code through tsx in the child process.
import { register } from 'tsx/esm/api';
register();
const { processJob } = await import('./processor-impl.ts');
export default processJob;
