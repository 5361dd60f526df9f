/** The Luhn check digit scheme of card numbers (ISO/IEC 7812). */
export function luhnValid(digits: string): boolean {
  if (!/^\d{12,19}$/.test(digits)) return false;
  return luhnSum(digits) % 10 === 0;
}

/** The digit that makes `partial` + digit Luhn-valid. */
export function luhnCheckDigit(partial: string): string {
  return String((10 - (luhnSum(`${partial}0`) % 10)) % 10);
}

function luhnSum(digits: string): number {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum;
}

/** "4000001234567899" -> "400000******7899" */
export function maskPan(pan: string): string {
  return `${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`;
}
