// The pool queue's slot supplier: offers are polled for only while a job slot is free.
import { describe, expect, it } from 'vitest';
import { createJobSlots } from '../../src/agent/job-slots';
import { poolSlotSupplier } from '../../src/agent/pool-capacity';

const ctx = {} as never;
const settled = async <T>(p: Promise<T>) => {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setTimeout(r, 20));
  return done;
};

describe('pool slot supplier', () => {
  it('hands out as many permits as there are free job slots, then waits for a job to end', async () => {
    const slots = createJobSlots(2);
    const supplier = poolSlotSupplier(slots);
    const abort = new AbortController();
    await supplier.reserveSlot(ctx, abort.signal);
    // The first offer became a job: its slot is taken, its permit released.
    expect(slots.take('job_1')).toBe(true);
    supplier.releaseSlot(ctx);
    await supplier.reserveSlot(ctx, abort.signal);
    expect(supplier.tryReserveSlot(ctx)).toBeNull();
    const third = supplier.reserveSlot(ctx, abort.signal);
    expect(await settled(third)).toBe(false);
    // An offer that was not for this agent frees its permit: the waiting poll may go on.
    supplier.releaseSlot(ctx);
    expect(await settled(third)).toBe(true);
    expect(slots.take('job_2')).toBe(true);
    supplier.releaseSlot(ctx);
    // Both slots hold jobs: nothing is polled until one of them ends.
    const fourth = supplier.reserveSlot(ctx, abort.signal);
    expect(await settled(fourth)).toBe(false);
    slots.release('job_1');
    expect(await settled(fourth)).toBe(true);
  });

  it('gives up waiting when the worker shuts down', async () => {
    const slots = createJobSlots(1);
    slots.take('job_1');
    const supplier = poolSlotSupplier(slots);
    const abort = new AbortController();
    const waiting = supplier.reserveSlot(ctx, abort.signal);
    abort.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
  });
});
