type Waiting<In, Out> = { item: In; resolve: (value: Out) => void; reject: (error: unknown) => void };

/**
 * Group commit. The first call goes out at once, with every call made in the same synchronous step
 * (the journal's drainer hands over its messages that way); calls made while it is in flight wait for
 * it and then go out together, as one batch, and so on: no call waits longer than the one before it,
 * and under load many share one round trip and one transaction. Order is kept. Meant for a database that runs
 * calls one at a time anyway (the embedded one): there, waiting for the call in flight costs nothing
 * the database would not make the caller wait for regardless.
 *
 * A batch is all or nothing. When it fails because of what was in it (`isolate` says so), each of its
 * items is tried again on its own, in order: the one bad item fails alone, with its own error, and no
 * item is half-written. When it fails for a reason of the moment (the database is unreachable), every
 * item fails with that error at once: trying each alone would make the last wait a timeout per item.
 */
export function groupCalls<In, Out>(options: {
  one: (item: In) => Promise<Out>;
  many: (items: In[]) => Promise<Out[]>;
  maxBatch: number;
  isolate: (error: unknown) => boolean;
}): (item: In) => Promise<Out> {
  const queue: Waiting<In, Out>[] = [];
  let draining = false;

  /** Settles one item with a call of its own; answers the error it failed with, if it did. */
  const runAlone = async (waiting: Waiting<In, Out>): Promise<{ error: unknown } | undefined> => {
    try {
      waiting.resolve(await options.one(waiting.item));
      return undefined;
    } catch (error) {
      waiting.reject(error);
      return { error };
    }
  };

  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue.splice(0, options.maxBatch);
      if (batch.length === 1) {
        await runAlone(batch[0]!);
        continue;
      }
      let results: Out[];
      try {
        results = await options.many(batch.map((waiting) => waiting.item));
      } catch (error) {
        await settleFailedBatch(batch, error);
        continue;
      }
      if (Array.isArray(results) && results.length === batch.length) batch.forEach((waiting, index) => waiting.resolve(results[index]!));
      // Committed, but unreadable: trying again would only find the items already done.
      else for (const waiting of batch) waiting.reject(new Error(`batch of ${batch.length} answered with ${Array.isArray(results) ? `${results.length} results` : typeof results}`));
    }
    draining = false;
  };

  const settleFailedBatch = async (batch: Waiting<In, Out>[], error: unknown) => {
    if (!options.isolate(error)) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    for (const [index, waiting] of batch.entries()) {
      const failed = await runAlone(waiting);
      // The database went away meanwhile: the rest fail with it now, not one timeout each.
      if (failed && !options.isolate(failed.error)) {
        for (const rest of batch.slice(index + 1)) rest.reject(failed.error);
        return;
      }
    }
  };

  return (item) =>
    new Promise<Out>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!draining) {
        draining = true;
        // After this step's other calls, not before them: one batch, not the first alone.
        queueMicrotask(() => void drain());
      }
    });
}
