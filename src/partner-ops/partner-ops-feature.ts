import type { Connection } from 'mongoose';
import type { z } from 'zod';
import { OrderLookup } from '../back-office/order-lookup.js';
import type { LedgerService } from '../ledger/ledger-service.js';
import { currencyExponent } from '../money/money.js';
import { validationError } from '../orders/create-card-request.js';
import { OrderRefunds } from '../orders/order-refunds.js';
import type { PartnerHandler } from '../partner-api/partner-handler.js';
import { CardList } from './card-list.js';
import { balanceBody, listCardsBody, listOrdersBody } from './list-requests.js';
import { Statement } from './statement.js';

/** The partner's read side beyond one order or card: lists, balance and statement. */
export interface PartnerOpsHandlers {
  listCards: PartnerHandler;
  listOrders: PartnerHandler;
  balance: PartnerHandler;
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

export function createPartnerOps(connection: Connection, ledger: LedgerService): { handlers: PartnerOpsHandlers } {
  const cards = new CardList(connection);
  const lookup = new OrderLookup(connection);
  const refunds = new OrderRefunds(connection);
  const statement = new Statement(connection, ledger);
  return {
    handlers: {
      async listCards({ project, body }) {
        return { status: 200, data: await cards.find(project._id, parse(listCardsBody, body)) };
      },
      async listOrders({ project, body }) {
        const { limit, cursor, ...filter } = parse(listOrdersBody, body);
        // The staff lookup, pinned to the caller's project: the same filters, indexes and cursor.
        const page = await lookup.find({ ...filter, project_id: project._id }, { limit, ...(cursor !== undefined && { cursor }) });
        // What only staff see: whose order it is, and who (staff) made it when not the partner.
        const views = page.orders.map(({ project_id: _project, created_by: _createdBy, ...view }) => view);
        return { status: 200, data: { orders: await refunds.attach(project._id, views, currencyExponent(project.currency)), next_cursor: page.next_cursor } };
      },
      async balance({ project, body }) {
        return { status: 200, data: await statement.read(project, parse(balanceBody, body)) };
      },
    },
  };
}
