/**
 * Money is integer minor units in storage and decimal strings on the wire (contract section 6).
 * Amounts stay within Number.MAX_SAFE_INTEGER so plain numbers are exact.
 */

export class MoneyFormatError extends Error {
  override name = 'MoneyFormatError';
}

/** "12.50" with exponent 2 -> 1250. Rejects signs, exponents, spaces and excess precision. */
export function parseDecimal(value: string, exponent: number): number {
  const match = /^(\d{1,15})(?:\.(\d+))?$/.exec(value);
  if (!match) throw new MoneyFormatError('must be a non-negative decimal string such as "10.50"');
  const [, whole = '', fraction = ''] = match;
  if (fraction.length > exponent) throw new MoneyFormatError(`must have at most ${exponent} decimal places`);
  const minor = Number(whole) * 10 ** exponent + Number(fraction.padEnd(exponent, '0') || '0');
  if (!Number.isSafeInteger(minor)) throw new MoneyFormatError('is too large');
  return minor;
}

/** 1250 with exponent 2 -> "12.50"; negative amounts keep their sign. */
export function formatMinor(minor: number, exponent: number): string {
  const sign = minor < 0 ? '-' : '';
  const digits = Math.abs(minor).toString().padStart(exponent + 1, '0');
  if (exponent === 0) return sign + digits;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** Minor-unit digits of the ISO 4217 currencies the gateway settles in. */
const EXPONENTS: Record<string, number> = { USD: 2, EUR: 2, GBP: 2, CHF: 2, PLN: 2, JPY: 0, KWD: 3 };

export function currencyExponent(currency: string): number {
  const exponent = EXPONENTS[currency];
  if (exponent === undefined) throw new MoneyFormatError(`unsupported currency ${currency}`);
  return exponent;
}

export const SUPPORTED_CURRENCIES = Object.keys(EXPONENTS);
