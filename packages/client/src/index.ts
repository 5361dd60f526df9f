/** The partner client, as exported by the package (`@card-gateway/client`). */
export { PartnerClient, type CallOptions, type EventHeaders, type PartnerClientOptions, type RequestClaims, type WaitOptions } from './partner-client.js';
export { GatewayApiError, GatewayResponseError, WaitTimeoutError, WebhookEventError, type WebhookEventRefusal } from './errors.js';
export { KeyFolderError, defaultKeysDir, loadKeyFolder, type PartnerKeys } from './key-folder.js';
export type * from './types.js';
export {
  SIGNATURE_ALGS,
  KEY_MANAGEMENT_ALGS,
  type SignatureAlg,
  type KeyManagementAlg,
  type KeyMaterial,
} from './jose/index.js';
