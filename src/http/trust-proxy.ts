/**
 * Express's "trust proxy" from TRUST_PROXY: false, a hop count, or the proxies' addresses. `true`
 * is refused by the configuration: trusting every X-Forwarded-For would let a client choose the
 * address its budgets are counted under. Both listeners (partner and admin) use the same setting.
 */
export function trustProxySetting(value: string): false | number | string {
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
