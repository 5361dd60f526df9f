import type { Connection } from 'mongoose';
import type { z } from 'zod';
import { OrderLookup } from '../back-office/order-lookup.js';
import type { Config } from '../config/config.js';
import type { LedgerService } from '../ledger/ledger-service.js';
import { currencyExponent } from '../money/money.js';
import { validationError } from '../orders/create-card-request.js';
import { OrderRefunds } from '../orders/order-refunds.js';
import type { PartnerHandler } from '../partner-api/partner-handler.js';
import { PARTNER_PATHS } from '../partner-api/routes.js';
import type { Project } from '../projects/project-model.js';
import { CursorSigner, loadCursorKeys } from './bound-cursor.js';
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

/**
 * One page of a list, its cursors bound to the endpoint, the project and the filters: the cursor
 * given is opened (refused unless this very walk made it), the next one signed for the same walk.
 */
async function boundPage<R extends { cursor?: string | undefined; limit: number }, P extends { next_cursor: string | null }>(
  signer: CursorSigner,
  endpoint: string,
  project: Project,
  request: R,
  read: (request: R) => Promise<P>,
): Promise<P> {
  // The page size may change mid-walk; everything else narrows what is walked.
  const filters = Object.fromEntries(Object.entries(request).filter(([name]) => name !== 'limit' && name !== 'cursor'));
  const binding = { endpoint, projectId: project._id, filters };
  const page = await read({ ...request, cursor: request.cursor === undefined ? undefined : signer.open(request.cursor, binding) });
  return { ...page, next_cursor: page.next_cursor === null ? null : signer.sign(page.next_cursor, binding) };
}

export async function createPartnerOps(deps: { connection: Connection; ledger: LedgerService; config: Config }): Promise<{ handlers: PartnerOpsHandlers }> {
  const { connection, ledger } = deps;
  const cursors = new CursorSigner(await loadCursorKeys(deps.config));
  const cards = new CardList(connection);
  const lookup = new OrderLookup(connection);
  const refunds = new OrderRefunds(connection);
  const statement = new Statement(connection, ledger);
  return {
    handlers: {
      async listCards({ project, body }) {
        const page = await boundPage(cursors, PARTNER_PATHS.listCards, project, parse(listCardsBody, body), (request) => cards.find(project._id, request));
        return { status: 200, data: page };
      },
      async listOrders({ project, body }) {
        const page = await boundPage(cursors, PARTNER_PATHS.listOrders, project, parse(listOrdersBody, body), async ({ limit, cursor, ...filter }) => {
          // The staff lookup, pinned to the caller's project: the same filters, indexes and cursor.
          const found = await lookup.find({ ...filter, project_id: project._id }, { limit, ...(cursor !== undefined && { cursor }) });
          // What only staff see: whose order it is, and who (staff) made it when not the partner.
          const views = found.orders.map(({ project_id: _project, created_by: _createdBy, ...view }) => view);
          return { orders: await refunds.attach(project._id, views, currencyExponent(project.currency)), next_cursor: found.next_cursor };
        });
        return { status: 200, data: page };
      },
      async balance({ project, body }) {
        return { status: 200, data: await boundPage(cursors, PARTNER_PATHS.balance, project, parse(balanceBody, body), (request) => statement.read(project, request)) };
      },
    },
  };
}
