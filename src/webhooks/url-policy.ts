import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may go. In production (allowPrivate false) only https, and never to an address
 * inside a private, loopback, link-local or otherwise non-public range: checked when the URL is
 * registered and again on every delivery, on the address the connection actually uses (a name
 * that resolved to a public address at registration may resolve to 127.0.0.1 later).
 */
export interface UrlPolicy {
  allowPrivate: boolean;
}

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96]] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** True for any address a webhook must not reach in production. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/** Why a URL cannot be registered, or undefined when it can (the address is checked again on delivery). */
export function refuseUrl(raw: string, policy: UrlPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.username || url.password) return 'must not carry credentials';
  if (url.hash) return 'must not have a fragment';
  if (url.protocol !== 'https:' && !(policy.allowPrivate && url.protocol === 'http:')) return policy.allowPrivate ? 'must be http or https' : 'must be https';
  if (policy.allowPrivate) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return 'must not name a loopback host';
  if (isIP(host) && isNonPublicAddress(host)) return 'must not name a private, loopback or reserved address';
  return undefined;
}

export class AddressRefusedError extends Error {
  override name = 'AddressRefusedError';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request that resolves as usual and refuses non-public addresses, so the
 * check and the connection use the same answer (no second resolution to rebind).
 */
export function checkedLookup(policy: UrlPolicy) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const allowed = policy.allowPrivate ? addresses : addresses.filter((a) => !isNonPublicAddress(a.address));
      if (allowed.length === 0) return callback(new AddressRefusedError('the host resolves only to non-public addresses'), []);
      if (options.all) return callback(null, allowed);
      return callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
