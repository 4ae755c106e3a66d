// The pool queue is polled only while this agent has a free job slot. A full agent therefore takes
// no job offers at all (no "busy" failures, no retry backoff): the job waits in the pool queue and
// goes to the first agent with room, or to this one the moment one of its jobs ends.
import type { ActivitySlotInfo, CustomSlotSupplier, SlotPermit } from '@temporalio/worker';
import type { JobSlots } from './job-slots';

export function poolSlotSupplier(slots: JobSlots): CustomSlotSupplier<ActivitySlotInfo> {
  // Permits handed out for offers not yet finished: each may become a job, so each needs a slot.
  let reserved = 0;
  let waiters: Array<() => void> = [];
  const hasRoom = () => slots.size + reserved < slots.max;
  const wake = () => {
    const woken = waiters;
    waiters = [];
    woken.forEach((resolve) => resolve());
  };
  slots.onFree(wake);
  return {
    type: 'custom',
    async reserveSlot(_ctx, abortSignal): Promise<SlotPermit> {
      while (!hasRoom()) {
        if (abortSignal.aborted) throw abortSignal.reason ?? new Error('slot reservation aborted');
        await new Promise<void>((resolve) => {
          const done = () => {
            abortSignal.removeEventListener('abort', done);
            resolve();
          };
          waiters.push(done);
          abortSignal.addEventListener('abort', done, { once: true });
        });
      }
      reserved++;
      return {};
    },
    tryReserveSlot(): SlotPermit | null {
      if (!hasRoom()) return null;
      reserved++;
      return {};
    },
    markSlotUsed() {},
    releaseSlot() {
      reserved--;
      wake();
    },
  };
}
