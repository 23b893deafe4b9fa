/**
 * How many connections the HTTP server holds at once, per client and in all. Each costs a file
 * descriptor whether or not it ever sends a request (authentication comes later, with the request),
 * and sandboxes need descriptors too: without a cap, a thousand idle connections left every new
 * sandbox unable to start. A client is an address, except that every loopback address is one client
 * (a local process can connect from any of 127.0.0.0/8) and an IPv6 client is its /64 (one host
 * usually holds the whole prefix).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ConnectionLimitsOptions {
  maxPerClient: number;
  maxTotal: number;
}

/** Why a connection is refused, for the answer and the log; undefined when it is admitted. */
export type Refusal = { limit: 'per-client'; client: string } | { limit: 'total' };

export class ConnectionLimits {
  readonly #options: ConnectionLimitsOptions;
  readonly #perClient = new Map<string, number>();
  #total = 0;

  constructor(options: ConnectionLimitsOptions) {
    this.#options = options;
  }

  /**
   * Counts a new connection from `address` if it fits; returns its release function (call it once,
   * when the connection closes), or why it was refused.
   */
  admit(address: string | undefined): { release: () => void } | { refused: Refusal } {
    const client = clientKey(address);
    const count = this.#perClient.get(client) ?? 0;
    if (count >= this.#options.maxPerClient) return { refused: { limit: 'per-client', client } };
    if (this.#total >= this.#options.maxTotal) return { refused: { limit: 'total' } };
    this.#perClient.set(client, count + 1);
    this.#total++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#perClient.get(client) ?? 1) - 1;
        if (left > 0) this.#perClient.set(client, left);
        else this.#perClient.delete(client);
      },
    };
  }

  get total(): number {
    return this.#total;
  }
}

/** The client a remote address counts as: `loopback`, an IPv4 address, or an IPv6 /64 (`2001:db8:0:1::/64`). */
export function clientKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const v4 = mapped ?? (isIPv4(address) ? address : undefined);
  if (v4 !== undefined) return v4.startsWith('127.') ? 'loopback' : v4;
  if (!isIPv6(address)) return address;
  const groups = expandIPv6(address.split('%')[0] ?? address);
  if (groups.slice(0, 7).every((group) => group === 0) && groups[7] === 1) return 'loopback';
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded; a trailing dotted IPv4 part folded in). */
function expandIPv6(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const start = parse(head);
  const end = tail === undefined ? [] : parse(tail);
  return [...start, ...new Array<number>(8 - start.length - end.length).fill(0), ...end];
}
