/**
 * The after-suite audit of everything the in-process gateways logged: no JOSE token, no key
 * material and no decrypted request content may appear in any line. Tests register the secrets
 * they create (private key members) and put BODY_CANARY into the bodies they send, so a leak of
 * either is caught verbatim, not only by pattern.
 */

/** Put this string in request bodies: it must never reach a log line. */
export const BODY_CANARY = 'canary-7f3c1e0b-decrypted-body';

const secrets = new Set<string>();

/** Remembers a secret (e.g. a private JWK's `d`) that must never be logged. */
export function registerSecret(value: string): void {
  if (value.length >= 16) secrets.add(value);
}

const PATTERNS: [string, RegExp][] = [
  ['a JOSE compact token', /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/],
  ['PEM key material', /-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|PUBLIC KEY|CERTIFICATE)-----/],
  ['a private JWK member', /"(d|p|q|dp|dq|qi|k)"\s*:\s*"[A-Za-z0-9_-]{16,}"/],
];

/** Returns one problem per offending line (empty when the logs are clean). */
export function auditLogLines(lines: readonly string[]): string[] {
  const problems: string[] = [];
  lines.forEach((line, index) => {
    for (const [what, pattern] of PATTERNS) {
      if (pattern.test(line)) problems.push(`line ${index + 1} contains ${what}`);
    }
    if (line.includes(BODY_CANARY)) problems.push(`line ${index + 1} contains decrypted body content`);
    for (const secret of secrets) {
      if (line.includes(secret)) problems.push(`line ${index + 1} contains a registered secret`);
    }
  });
  return problems;
}
