import winston from 'winston';
import { redactField, redactString } from './redact.js';

/**
 * Structured JSON logs. The redaction format runs on every entry before any transport sees it,
 * so no caller can forget it.
 */

// winston keeps level and message under symbols as well; only the visible fields are redacted.
// Top-level fields are judged by their names too (`{ body }`, `{ jwk }`), like nested ones.
const redaction = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'timestamp') continue;
    info[key] = key === 'message' && typeof info[key] === 'string' ? redactString(info[key]) : redactField(key, info[key]);
  }
  return info;
});

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: string;
  /** Extra transports (tests capture every line to check it for secrets). */
  transports?: winston.transport[];
  silentConsole?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const transports: winston.transport[] = [
    new winston.transports.Console({ silent: options.silentConsole ?? false, stderrLevels: ['error', 'warn'] }),
    ...(options.transports ?? []),
  ];
  return winston.createLogger({
    level: options.level,
    format: winston.format.combine(redaction(), winston.format.timestamp(), winston.format.json()),
    transports,
  });
}
