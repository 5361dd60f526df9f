import { GatewayError } from '../errors/gateway-error.js';

/**
 * Bounds the work done before a request is authenticated: at most `concurrency` decryptions at
 * once, at most `queue` more waiting (first come, first served), and anything beyond is refused
 * at once with 503 and Retry-After instead of piling up. So a flood of junk costs the gateway a
 * fixed amount of CPU and memory, and authenticated partners' requests keep their turn.
 */
export class WorkLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue) throw new GatewayError('service_unavailable', undefined, {}, { 'Retry-After': '1' });
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next in line (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
