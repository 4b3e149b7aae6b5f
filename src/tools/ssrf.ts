/**
 * Address classification for outbound requests made on a model's behalf (SSRF protection): which IPs and host
 * names must not be reached — loopback, private, carrier-grade NAT, link-local, cloud metadata, unspecified,
 * multicast and reserved ranges — including IPv4 addresses smuggled inside IPv6 (mapped, compatible, NAT64, 6to4).
 */
import { isIP } from 'node:net';
import { InvalidOptionsError } from '../common/errors.js';

/** Why an address is blocked. */
export type BlockReason = 'loopback' | 'private' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved';

interface Cidr {
  bytes: Uint8Array; // 16 bytes; IPv4 as ::ffff:a.b.c.d
  prefix: number; // over 128 bits
}

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function mapped(v4: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

/** Parses an IPv4 or IPv6 literal (brackets and zone ids allowed) into 16 bytes, IPv4 as IPv4-mapped. */
export function parseIp(text: string): Uint8Array | undefined {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const zone = t.indexOf('%');
  if (zone !== -1) t = t.slice(0, zone);
  const kind = isIP(t);
  if (kind === 4) return mapped(parseIPv4(t)!);
  if (kind !== 6) return undefined;
  let tail: Uint8Array | undefined;
  const lastColon = t.lastIndexOf(':');
  if (t.slice(lastColon + 1).includes('.')) {
    tail = parseIPv4(t.slice(lastColon + 1));
    t = `${t.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = t.split('::') as [string, string | undefined];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const fill = rest === undefined ? 0 : 8 - h.length - r.length;
  const all = [...h, ...new Array<number>(fill).fill(0), ...r];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = (g >> 8) & 0xff;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

/** Parses `a.b.c.d/n`, `x::/n` or a bare address (a /32 or /128). @throws InvalidOptionsError when invalid. */
export function parseCidr(text: string, option = 'allow'): Cidr {
  const [addr = '', len] = text.split('/');
  const bytes = parseIp(addr);
  if (!bytes) throw new InvalidOptionsError(option, `Expected an IP address or CIDR, got ${JSON.stringify(text)}`);
  const v4 = isIP(addr.replace(/^\[|\]$/g, '')) === 4;
  const max = v4 ? 32 : 128;
  const n = len === undefined ? max : Number(len);
  if (!Number.isInteger(n) || n < 0 || n > max || (len !== undefined && !/^\d+$/.test(len))) {
    throw new InvalidOptionsError(option, `Invalid prefix length in ${JSON.stringify(text)} (0-${max})`);
  }
  return { bytes, prefix: v4 ? 96 + n : n };
}

function inCidr(ip: Uint8Array, cidr: Cidr): boolean {
  let bits = cidr.prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}

/** Blocked ranges, most specific first (metadata before link-local). */
const BLOCKED: readonly (readonly [string, BlockReason])[] = [
  ['169.254.169.254/32', 'metadata'], // AWS, GCP, Azure, OpenStack...
  ['169.254.170.2/32', 'metadata'], // ECS task metadata
  ['100.100.100.200/32', 'metadata'], // Alibaba Cloud
  ['fd00:ec2::254/128', 'metadata'], // AWS IPv6 IMDS
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'private'], // carrier-grade NAT
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'reserved'],
  ['192.88.99.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'reserved'],
  ['198.51.100.0/24', 'reserved'],
  ['203.0.113.0/24', 'reserved'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // includes 255.255.255.255
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'reserved'],
  ['2001:db8::/32', 'reserved'],
  ['fc00::/7', 'private'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'reserved'],
  ['ff00::/8', 'multicast'],
];
const BLOCKED_CIDRS = BLOCKED.map(([c, reason]) => ({ cidr: parseCidr(c), reason }));

/** IPv6 prefixes that carry an IPv4 address: the embedded address is checked too. */
function embeddedIPv4(ip: Uint8Array): Uint8Array | undefined {
  const zeros = (from: number, to: number): boolean => ip.slice(from, to).every((b) => b === 0);
  // IPv4-compatible ::a.b.c.d (deprecated, but some stacks still route it); :: and ::1 are handled as IPv6.
  if (zeros(0, 12) && !zeros(12, 15)) return ip.slice(12, 16);
  // NAT64 64:ff9b::/96
  if (ip[0] === 0x00 && ip[1] === 0x64 && ip[2] === 0xff && ip[3] === 0x9b && zeros(4, 12)) return ip.slice(12, 16);
  // 6to4 2002:aabb:ccdd::/48
  if (ip[0] === 0x20 && ip[1] === 0x02) return ip.slice(2, 6);
  return undefined;
}

/**
 * Why `address` must not be contacted, or undefined when it is a public address. Non-IP input counts as
 * `reserved` (fail closed).
 */
export function blockedReason(address: string): BlockReason | undefined {
  const ip = parseIp(address);
  if (!ip) return 'reserved';
  for (const { cidr, reason } of BLOCKED_CIDRS) if (inCidr(ip, cidr)) return reason;
  const inner = embeddedIPv4(ip);
  if (inner) return blockedReason(Array.from(inner).join('.'));
  return undefined;
}

/** Host names of cloud metadata services, blocked before any DNS lookup. */
export const METADATA_HOSTNAMES: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** Normalizes a host name for comparison: lower case, no brackets, no trailing dot. */
export function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** An allowlist of address ranges and host names that may be contacted even though they are private. */
export interface AddressPolicy {
  /** Whether the host name is explicitly allowed (it may then resolve anywhere). */
  hostAllowed(host: string): boolean;
  /** Why the address is blocked (undefined: allowed). */
  check(address: string): BlockReason | undefined;
}

/**
 * Builds the policy from allowlist entries: IPs or CIDRs (`127.0.0.1`, `10.1.0.0/16`, `::1`) allow those addresses;
 * anything else is a host name (`intranet.example.com`, or `*.corp.example` for subdomains) allowed to resolve
 * anywhere. @throws InvalidOptionsError for a malformed entry.
 */
export function addressPolicy(allow: readonly string[] = [], option = 'allow'): AddressPolicy {
  const cidrs: Cidr[] = [];
  const hosts: string[] = [];
  const suffixes: string[] = [];
  for (const [i, entry] of allow.entries()) {
    if (typeof entry !== 'string' || entry.trim() === '') throw new InvalidOptionsError(`${option}[${i}]`, `Expected a non-empty string, got ${JSON.stringify(entry)}`);
    const e = entry.trim();
    if (/^[\d.]+(\/\d+)?$/.test(e) || e.includes(':')) cidrs.push(parseCidr(e, `${option}[${i}]`));
    else if (e.startsWith('*.')) suffixes.push(normalizeHost(e.slice(1)));
    else if (/^[a-z0-9.-]+$/i.test(e)) hosts.push(normalizeHost(e));
    else throw new InvalidOptionsError(`${option}[${i}]`, `Expected an IP, CIDR or host name, got ${JSON.stringify(e)}`);
  }
  return {
    hostAllowed(host) {
      const h = normalizeHost(host);
      return hosts.includes(h) || suffixes.some((s) => h.endsWith(s));
    },
    check(address) {
      const reason = blockedReason(address);
      if (reason === undefined) return undefined;
      const ip = parseIp(address);
      if (ip && cidrs.some((c) => inCidr(ip, c))) return undefined;
      return reason;
    },
  };
}
