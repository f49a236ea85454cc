import { createSocket } from 'node:dgram';

/** A name server on loopback, as slow as a distant or failing one: for what a flood of lookups does to the rest. */
export interface SlowDns {
  address: string;
  port: number;
  /** The most names under `slowSuffix` it was asked about at the same time. */
  maxSlowInFlight: () => number;
  close: () => Promise<void>;
}

/**
 * Answers names ending in `slowSuffix` with NXDOMAIN after `delayMs`, and every other name at once:
 * an A query with `answer` (IPv4), an AAAA query with no records.
 */
export async function startSlowDns(opts: { address: string; port: number; slowSuffix: string; delayMs: number; answer: string }): Promise<SlowDns> {
  const socket = createSocket('udp4');
  const slow = new Map<string, number>();
  let maxSlow = 0;
  const timers = new Set<NodeJS.Timeout>();
  socket.on('message', (query, from) => {
    const question = readQuestion(query);
    if (!question) return;
    const reply = (packet: Buffer) => socket.send(packet, from.port, from.address);
    if (!question.name.endsWith(opts.slowSuffix)) {
      const records = question.type === 1 ? [Buffer.from(opts.answer.split('.').map(Number))] : [];
      reply(answerPacket(query, question.end, 0, records));
      return;
    }
    slow.set(question.name, (slow.get(question.name) ?? 0) + 1);
    maxSlow = Math.max(maxSlow, slow.size);
    const timer = setTimeout(() => {
      timers.delete(timer);
      const left = slow.get(question.name)! - 1;
      if (left) slow.set(question.name, left);
      else slow.delete(question.name);
      reply(answerPacket(query, question.end, 3, []));
    }, opts.delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.address, () => resolve());
  });
  return {
    address: opts.address,
    port: (socket.address() as { port: number }).port,
    maxSlowInFlight: () => maxSlow,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

/** The first question's name (lower case, no trailing dot), type, and where it ends. */
function readQuestion(packet: Buffer): { name: string; type: number; end: number } | undefined {
  if (packet.length < 17) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < packet.length && packet[at]! > 0) {
    const length = packet[at]!;
    labels.push(packet.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  if (at + 5 > packet.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: packet.readUInt16BE(at + 1), end: at + 5 };
}

/** The query's header and question, marked as an answer with `rcode`, and one A (or AAAA) record per rdata. */
function answerPacket(query: Buffer, questionEnd: number, rcode: number, rdatas: Buffer[]): Buffer {
  const head = Buffer.from(query.subarray(0, questionEnd));
  head.writeUInt16BE(0x8180 | rcode, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(rdatas.length, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  const type = query.readUInt16BE(questionEnd - 4);
  const records = rdatas.map((rdata) => {
    const record = Buffer.alloc(12 + rdata.length);
    record.writeUInt16BE(0xc00c, 0);
    record.writeUInt16BE(type, 2);
    record.writeUInt16BE(1, 4);
    record.writeUInt32BE(60, 6);
    record.writeUInt16BE(rdata.length, 10);
    rdata.copy(record, 12);
    return record;
  });
  return Buffer.concat([head, ...records]);
}
