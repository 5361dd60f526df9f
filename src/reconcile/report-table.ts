import { textTable } from '../back-office/text-table.js';
import { currencyExponent, formatMinor } from '../money/money.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import type { ReconcileReport } from './reconciler.js';

/** The reconciliation report as a table for a person at a terminal. */
export function reportTable(report: ReconcileReport): string {
  const lines: string[] = [];
  lines.push(
    `Reconciliation as of ${report.as_of} (stuck after ${report.stuck_after_s} s, in-flight window ${report.settle_s} s, ` +
      `provider ${report.provider_checked ? 'checked' : 'NOT checked'})`,
    '',
  );
  const rows = report.projects.map((p) => [
    p.project_id,
    count(p.entries),
    count(p.orders),
    count(p.cards),
    p.currency ? `${formatMinor(p.balance, exponent(p.currency))} ${p.currency}` : String(p.balance),
    count(p.faults),
  ]);
  const t = report.totals;
  rows.push(['total', count(t.entries), count(t.orders), count(t.cards), '', count(t.faults)]);
  lines.push(...textTable(['project', 'ledger entries', 'orders', 'cards', 'balance', 'faults'], rows, [false, true, true, true, true, true]), '');

  if (report.faults.length > 0) {
    lines.push(`Faults${report.faults_truncated ? ` (first ${report.faults.length} of ${t.faults})` : ''}:`);
    lines.push(
      ...textTable(
        ['fault', 'project', 'order', 'seq', 'detail'],
        report.faults.map((f) => [f.kind, f.project_id, f.order_id ?? '', f.seq === undefined ? '' : String(f.seq), f.detail]),
        [false, false, false, true, false],
      ),
      '',
    );
    lines.push('Fault kinds found:');
    for (const [kind, n] of Object.entries(report.fault_counts)) lines.push(`  ${kind} (${n}): ${FAULT_KINDS[kind as FaultKind]}`);
    lines.push('');
  }
  lines.push(report.ok ? 'OK: the ledger, the orders and the cards agree.' : `DIFFERENCES FOUND: ${t.faults} fault(s).`);
  return lines.join('\n');
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function exponent(currency: string): number {
  try {
    return currencyExponent(currency);
  } catch {
    return 0;
  }
}
