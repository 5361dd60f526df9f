import Transport from 'winston-transport';
import { createLogger, type Logger } from '../../src/logging/logger.js';

/** Keeps every formatted log line, so tests can assert on what was logged (and what was not). */
class CaptureTransport extends Transport {
  readonly lines: string[] = [];

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const formatted = info[Symbol.for('message')];
    this.lines.push(typeof formatted === 'string' ? formatted : JSON.stringify(info));
    next();
  }
}

const capture = new CaptureTransport();

/** One logger for the whole in-process suite; the console stays quiet unless TEST_LOGS=1. */
export const testLogger: Logger = createLogger({
  level: 'debug',
  silentConsole: process.env.TEST_LOGS !== '1',
  transports: [capture],
});

export function capturedLogLines(): readonly string[] {
  return capture.lines;
}
