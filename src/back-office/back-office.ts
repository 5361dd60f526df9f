import type { Connection } from 'mongoose';
import { cardholderModel } from '../cardholders/cardholder-model.js';
import { ledgerEntryModel } from '../ledger/ledger-entry-model.js';
import { orderModel } from '../orders/order-model.js';
import { productModel } from '../products/product-model.js';
import { projectModel } from '../projects/project-model.js';
import { cardModel } from '../cards/card-model.js';
import { AuditLog, auditLogModel } from './audit-log.js';
import { CardholdersAdmin } from './cardholders-admin.js';
import { Funding } from './funding.js';
import { OrderLookup } from './order-lookup.js';
import { ProductsAdmin } from './products-admin.js';
import { ProjectsAdmin } from './projects-admin.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { WebhookAdmin, type WebhookAdminOptions } from '../webhooks/webhook-admin.js';
import { webhookModels } from '../webhooks/webhook-models.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { OrderRepair } from '../order-repair/order-repair.js';

/** The back-office service layer: the admin API and the scripts both call exactly these. */
export interface BackOffice {
  audit: AuditLog;
  orders: OrderLookup;
  projects: ProjectsAdmin;
  funding: Funding;
  products: ProductsAdmin;
  cardholders: CardholdersAdmin;
  reconciler: Reconciler;
  webhooks: WebhookAdmin;
  repair: OrderRepair;
}

/** Without options, webhook URLs must be public https (the production rule) and retry for 24 hours. */
const STRICT_WEBHOOKS: WebhookAdminOptions = { policy: { allowPrivate: false }, retryForS: 86_400 };

/** Registers every model the back office touches, so createIndexes() covers them. */
export function registerBackOfficeModels(connection: Connection): void {
  auditLogModel(connection);
  orderModel(connection);
  ledgerEntryModel(connection);
  projectModel(connection);
  productModel(connection);
  cardholderModel(connection);
  cardModel(connection);
  webhookModels(connection);
}

/** `logger`: where order repair's fence reports races it lost (default: warnings to stderr). */
export function createBackOffice(connection: Connection, webhookOptions: WebhookAdminOptions = STRICT_WEBHOOKS, logger: Logger = createLogger({ level: 'warn' })): BackOffice {
  registerBackOfficeModels(connection);
  const audit = new AuditLog(connection);
  return {
    audit,
    orders: new OrderLookup(connection),
    projects: new ProjectsAdmin(connection, audit),
    funding: new Funding(connection, audit),
    products: new ProductsAdmin(connection, audit),
    cardholders: new CardholdersAdmin(connection, audit),
    reconciler: new Reconciler(connection),
    webhooks: new WebhookAdmin(connection, audit, webhookOptions),
    repair: new OrderRepair(connection, audit, logger),
  };
}
