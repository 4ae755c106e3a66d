// The floor for orchestration overhead: a bare workflow running n no-op activities one after another.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function FloorWorkflow(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await noop();
}
