import type { ZodType } from 'zod';

/**
 * The records of a JSON-lines file, one per key in the order each key first appears: a record written
 * again under the same key (an update appended) replaces the earlier one. A line cut short or not of the schema is
 * skipped: such files are appended to and may be read mid-write.
 */
export function latestByKey<T, K>(text: string, schema: ZodType<T>, keyOf: (record: T) => K): T[] {
  const byKey = new Map<K, T>();
  for (const line of text.split('\n')) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) byKey.set(keyOf(parsed.data), parsed.data);
  }
  return [...byKey.values()];
}
